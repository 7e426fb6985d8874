extension StringProtocol {
    /// The text without the spaces and tabs at either end (``Unicode/Scalar/isHorizontalWhitespace``):
    /// what Foundation's `trimmingCharacters(in: .whitespaces)` does, here because VMP3Core
    /// builds on FoundationEssentials, which does not have it.
    package func trimmingWhitespace() -> String {
        trimming(where: \.isHorizontalWhitespace)
    }

    /// The text without the whitespace and line breaks at either end, as
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` does.
    package func trimmingWhitespaceAndNewlines() -> String {
        trimming { $0.isHorizontalWhitespace || $0.isLineBreak }
    }

    /// The text without the Unicode scalars at either end for which `isTrimmed` holds.
    package func trimming(where isTrimmed: (Unicode.Scalar) -> Bool) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isTrimmed($0) }),
              let last = scalars.lastIndex(where: { !isTrimmed($0) }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}

extension Unicode.Scalar {
    /// A space separator (Unicode category Zs), the tab or the zero-width space (U+200B): what
    /// Foundation's `CharacterSet.whitespaces` holds.
    package var isHorizontalWhitespace: Bool {
        self == "\t" || self == "\u{200B}" || properties.generalCategory == .spaceSeparator
    }

    /// What `CharacterSet.newlines` holds: U+000A–U+000D, U+0085, U+2028 and U+2029.
    package var isLineBreak: Bool {
        ("\u{0A}"..."\u{0D}").contains(self) || self == "\u{85}" || self == "\u{2028}" || self == "\u{2029}"
    }
}
