extension Double {
    /// The value with `places` digits after the point (0–6), as `String(format: "%.Nf")` writes
    /// it, which FoundationEssentials does not have: value × 10^N rounded half away from zero (so
    /// a value within a rounding error of a half may end one unit from printf's, which rounds the
    /// exact binary value), a minus sign when negative (`-0.0` too, as printf), and a plus sign
    /// before other values when `plusSign` is set (`%+.Nf`). Values that are not finite, or too
    /// large to count in units of the last place, are written as Swift writes them.
    package func decimal(places: Int, plusSign: Bool = false) -> String {
        let places = Swift.max(0, Swift.min(places, 6))
        var scale: Int64 = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = (magnitude * Double(scale)).rounded()
        guard isFinite, scaled < 9e18 else { return description }
        let units = Int64(scaled)
        var text = String(units / scale)
        if places > 0 {
            text += "." + String(units % scale).padded(toWidth: places, with: "0")
        }
        if sign == .minus { return "-" + text }
        return plusSign ? "+" + text : text
    }
}

extension String {
    /// The text with `pad` before it, as many as bring it to `width` characters (`%02d`, `%3d`).
    package func padded(toWidth width: Int, with pad: Character = " ") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
