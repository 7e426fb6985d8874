import CSandbox
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VMP3Core
import VMP3Sandbox

/// What a conversion child started ahead of need does while it waits: it converts a small clip
/// of its own, from memory to memory, the way it will convert the job.
///
/// A process pays once for its first conversion: FFmpeg's and LAME's tables, the first faults of
/// the demuxer's, the decoders' and the encoder's code, the Swift runtime's first casts and
/// metadata. In a child started for one job those are paid on the job's time; a waiting
/// child pays them before the job comes. The clip (0.4 s of H.264 and AAC in MP4, 64×64, 3.7 kB) is
/// the kind of file the services convert most, so its demuxer and decoders are the ones warmed.
/// It is the project's own, not the upload's: the child is not confined yet while it converts it.
package enum ChildWarmUp {
    /// Converts the clip; `true` if it converted. A failure leaves nothing behind (the files live
    /// in memory): the job's conversion then pays the first-time costs itself.
    @discardableResult
    package static func run() -> Bool {
        guard let clip = Data(base64Encoded: clipBase64, options: .ignoreUnknownCharacters) else { return false }
        let input = clip.withUnsafeBytes { vmp3_sandbox_memory_file("vmp3-warm-up.mp4", $0.baseAddress, $0.count) }
        guard input >= 0 else { return false }
        defer { close(input) }
        let output = vmp3_sandbox_memory_file("vmp3-warm-up.mp3", nil, 0)
        guard output >= 0 else { return false }
        defer { close(output) }
        var pipeline = ConversionPipeline(
            input: URL(fileURLWithPath: "warm-up.mp4"),
            output: URL(fileURLWithPath: "warm-up.mp3"),
            options: ConversionOptions(),
            configuration: ConversionConfiguration(),
            stop: StopCondition(timeLimit: .seconds(10)),
            progress: nil,
            logger: .disabled
        )
        pipeline.descriptors = (input, output)
        pipeline.threadBudget = EncodingThreadBudget(total: 1)
        guard let result = try? pipeline.run() else { return false }
        // The messages' coders, each used the first time on the job's path otherwise: the
        // request's decoding and the answer's encoding.
        let request = ConversionChildRequest(
            mode: .convert, inputName: "warm-up.mp4", outputName: "warm-up.mp3", options: ConversionOptions(), lfeMixLevel: 0,
            progressIntervalMilliseconds: 500, limits: ConversionLimits(), threads: 1,
            confinement: ConfinementSettings(addressSpaceBytes: nil, cpuSeconds: nil, fileSizeBytes: nil, namespaces: true),
            escapeAttempt: nil
        )
        if let frame = try? MessageFraming.encode(request) {
            _ = try? MessageFraming.decode(ConversionChildRequest.self, from: Array(frame.dropFirst(4)))
        }
        _ = try? MessageFraming.encode(ConversionChildReport.converted(result))
        return true
    }

    /// The clip, made with:
    /// `ffmpeg -f lavfi -i color=c=0x336699:s=64x64:r=10:d=0.4 -f lavfi -i sine=f=440:sample_rate=44100:d=0.4 -ac 2
    /// -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 32k -shortest -movflags +faststart
    /// -map_metadata -1 -fflags +bitexact warm.mp4`, then `base64 -w 100 warm.mp4`.
    static let clipBase64 = """
AAAAIGZ0eXBpc29tAAACAGlzb21pc28yYXZjMW1wNDEAAAXSbW9vdgAAAGxtdmhkAAAAAAAAAAAAAAAAAAAD6AAAAZAAAQAAAQAA
AAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwAA
Amh0cmFrAAAAXHRraGQAAAADAAAAAAAAAAAAAAABAAAAAAAAAZAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAABAAAA
AAAAAAAAAAAAAABAAAAAAEAAAABAAAAAAAAkZWR0cwAAABxlbHN0AAAAAAAAAAEAAAGQAAAAAAABAAAAAAHgbWRpYQAAACBtZGhk
AAAAAAAAAAAAAAAAAAAoAAAAEABVxAAAAAAALWhkbHIAAAAAAAAAAHZpZGUAAAAAAAAAAAAAAABWaWRlb0hhbmRsZXIAAAABi21p
bmYAAAAUdm1oZAAAAAEAAAAAAAAAAAAAACRkaW5mAAAAHGRyZWYAAAAAAAAAAQAAAAx1cmwgAAAAAQAAAUtzdGJsAAAAt3N0c2QA
AAAAAAAAAQAAAKdhdmMxAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAEAAQABIAAAASAAAAAAAAAABDExhdmMgbGlieDI2NAAAAAAA
AAAAAAAAAAAAAAAAAAAAGP//AAAALWF2Y0MBQsAK/+EAFmdCwAraEJsBEAAAAwAQAAADAUDxImoBAARozg/IAAAAEHBhc3AAAAAB
AAAAAQAAABRidHJ0AAAAAAAAM/QAADP0AAAAGHN0dHMAAAAAAAAAAQAAAAQAAAQAAAAAFHN0c3MAAAAAAAAAAQAAAAEAAAAcc3Rz
YwAAAAAAAAABAAAAAQAAAAEAAAABAAAAJHN0c3oAAAAAAAAAAAAAAAQAAAJ7AAAACgAAAAoAAAAKAAAAIHN0Y28AAAAAAAAABAAA
BlwAAAqKAAALzwAADRkAAAK5dHJhawAAAFx0a2hkAAAAAwAAAAAAAAAAAAAAAgAAAAAAAAGQAAAAAAAAAAAAAAABAQAAAAABAAAA
AAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAJGVkdHMAAAAcZWxzdAAAAAAAAAABAAABkAAABAAAAQAA
AAACMW1kaWEAAAAgbWRoZAAAAAAAAAAAAAAAAAAArEQAAEjoVcQAAAAAAC1oZGxyAAAAAAAAAABzb3VuAAAAAAAAAAAAAAAAU291
bmRIYW5kbGVyAAAAAdxtaW5mAAAAEHNtaGQAAAAAAAAAAAAAACRkaW5mAAAAHGRyZWYAAAAAAAAAAQAAAAx1cmwgAAAAAQAAAaBz
dGJsAAAAfnN0c2QAAAAAAAAAAQAAAG5tcDRhAAAAAAAAAAEAAAAAAAAAAAACABAAAAAArEQAAAAAADZlc2RzAAAAAAOAgIAlAAIA
BICAgBdAFQAAAAAAfQAAAHDABYCAgAUSEFblAAaAgIABAgAAABRidHJ0AAAAAAAAfQAAAHDAAAAAIHN0dHMAAAAAAAAAAgAAABIA
AAQAAAAAAQAAAOgAAABAc3RzYwAAAAAAAAAEAAAAAQAAAAEAAAABAAAAAgAAAAUAAAABAAAAAwAAAAQAAAABAAAABQAAAAUAAAAB
AAAAYHN0c3oAAAAAAAAAAAAAABMAAABaAAAAfgAAAEkAAABQAAAATwAAAE0AAABMAAAATgAAAFEAAABQAAAATAAAAFEAAABPAAAA
VAAAAFIAAABXAAAAWgAAAGUAAAAHAAAAJHN0Y28AAAAAAAAABQAABgIAAAjXAAAKlAAAC9kAAA0jAAAAGnNncGQBAAAAcm9sbAAA
AAIAAAAB//8AAAAcc2JncAAAAAByb2xsAAAAAQAAABMAAAABAAAAPXVkdGEAAAA1bWV0YQAAAAAAAAAhaGRscgAAAAAAAAAAbWRp
cmFwcGwAAAAAAAAAAAAAAAAIaWxzdAAAAAhmcmVlAAAImG1kYXTeAgBMYXZjNTkuMzcuMTAwAEJLKkhBOXkzOJV3OJJa5AEEQRBS
i2Wg+evl34X6tnymmLjx4/L5TZYuPHjxy5csXHjx45cuWKJFINl5MziVdziSWuQAAAAAAA4AAAJUBgX//1DcRem95tlIt5Ys2CDZ
I+7veDI2NCAtIGNvcmUgMTY0IHIzMDk1IGJhZWU0MDAgLSBILjI2NC9NUEVHLTQgQVZDIGNvZGVjIC0gQ29weWxlZnQgMjAwMy0y
MDIyIC0gaHR0cDovL3d3dy52aWRlb2xhbi5vcmcveDI2NC5odG1sIC0gb3B0aW9uczogY2FiYWM9MCByZWY9MSBkZWJsb2NrPTA6
MDowIGFuYWx5c2U9MDowIG1lPWRpYSBzdWJtZT0wIHBzeT0xIHBzeV9yZD0xLjAwOjAuMDAgbWl4ZWRfcmVmPTAgbWVfcmFuZ2U9
MTYgY2hyb21hX21lPTEgdHJlbGxpcz0wIDh4OGRjdD0wIGNxbT0wIGRlYWR6b25lPTIxLDExIGZhc3RfcHNraXA9MSBjaHJvbWFf
cXBfb2Zmc2V0PTAgdGhyZWFkcz0yIGxvb2thaGVhZF90aHJlYWRzPTEgc2xpY2VkX3RocmVhZHM9MCBucj0wIGRlY2ltYXRlPTEg
aW50ZXJsYWNlZD0wIGJsdXJheV9jb21wYXQ9MCBjb25zdHJhaW5lZF9pbnRyYT0wIGJmcmFtZXM9MCB3ZWlnaHRwPTAga2V5aW50
PTI1MCBrZXlpbnRfbWluPTEwIHNjZW5lY3V0PTAgaW50cmFfcmVmcmVzaD0wIHJjPWNyZiBtYnRyZWU9MCBjcmY9MjMuMCBxY29t
cD0wLjYwIHFwbWluPTAgcXBtYXg9NjkgcXBzdGVwPTQgaXBfcmF0aW89MS40MCBhcT0wAIAAAAAfZYiEOhGKAAIQMcAAQKI4AAgP
ycnJ1111111111114CFGbP///81ZG2StkrZKuf5664/8ev3641/x4/nzxr+/v/PnjQb/W0dEYxQH2TTuwWKXwkDcWUcRr+Q1/L5A
fSiE2Eu/whVhggqJk8XPPF9J1cYvpzscvENRRRQaaHDhw5z/PXXH/j1+/XGv+PH8+eNf39/588aAAAAAAAAAByF11Nld457/Z+/t
8W8uFpqpcDuf3zpuzZjZ/ch8fDY9/eEfHwYZ/eEfHwYZ/cDh8AZ/cTY3eOe/2fv7fFvLhaaqXAAAAAAAAcAhFdQBPFDK/P/9n+P/
X/3u9Xq6vOvn4r19xrooRgRUUUUUUUUMoXQa0bD15iWYfmuUzbf+QA3ZX5//s/x/6/+93q9XV518/FevuAAAAAAADiEV1AFdlfP/
9+//1/XU1rrc4yu/au/YfKec51FPPPPPOeecTznVFDUJzqAHGQM9RyAEz7UAN2V8//37//X9dTWutzjK79q79gAAAAAAAcAhFdQR
QE5n2//ufn/1/97u+klzfj6zx8D5fKJZzGiiiiiiy8ePFBIimtVesSmnUppTFKIIbmfb/+5+f/X/3u76SXN+PrPHwAAAAAAADgAA
AAZBmiARoIwhFdP5MFaq+3/99/6/+WrviXnDPX1zvyEvPOpbM9pe0seea2ebd2rlWy5hszr2bCMUH8bqr7f/33/r/5au+JecM9fX
O/IAAAAAAAOAIRXUEkRMV8//1e//X/3u9XcXjOnz9wEhITHapQSEhISEhISEzUzlO6Jp1GumxclZhfFcmwwghuV8//1e//X/3u9X
cXjOnz9wAAAAAAAcIRXT2UBO3v9P/6nf/r/6zWru9VvX2+/O/IX+qEHIv10dHRRRQGunws/Uy40tZEl9Cdmo6pTexu3v9P/6nf/r
/6zWru9VvX2+/O/IAAAAAAAOIRXUEkBOV8//8vj/n/vc1d2knz8X9vwAYGBoLP76wYkSJEgbO84NXoKJKg92aUClfb2viTCUIIbl
fP//L4/5/73NXdpJ8/F/b8AAAAAAAA4AAAAGQZpAEqCMIRXT/JyUJlZz//az/v+93q+Fq3vpnAxyiYlzHR/k234lFFFFFEIhFVDC
UiIilylS9mwol2fxurOf/7Wf9/3u9XwtW99M4AAAAAAAByEV0/oSxEwSsrf/18f/pq9Xpqrlevie/0Akrd9rP/7JBlzzzzzzzzzy
XVpSbt3MegiSYk5rkJa9j+N2Vv/6+P/01er01VyvXxPf6AAAAAAAByEV0/sSxogUDv/6+P/b+Va1OFK7+N1oM7PM4bBYx3wu94H5
2aaaaaaZoq01DsTIyzEtws850W6P43Hf/18f+38q1qcKV38brQAAAAAAAOAhFdPdpJw5//veP/v+8riR1Wbrpz0BRkLJGyMiTLoi
eSo9BGgRidU8/VPOpRwo6lThB1AHXsJWRXIABlr2Nxz//e8f/f95XEjqs3XTnoAAAAAAAHAAAAAGQZpgEqCMIRXT3CEOKFTv/+pv
/3/zGksX35njoMtMtMzjaxVl6Z/xcSVoYGBgY2DGwaVQNjWlaMWeJReHts9RRzo9jdU7//qb/9/8xpLF9+Z46AAAAAAAByEV09MS
yEoyr9d//2vX/n/zmpOqkzXjis0AizJYLtNzPIRd/BIn/f7/f7uRpcJMSUoMgqoPEGjdo5oc4ikehuv13//a9f+f/Oak6qTNeOKz
QAAAAAAAOCEl1J2lHGT/8Ov9rd+0NS13EDQsHDWOM9x/bzXumDn2TizZlMRRYY1//z9HtwAAA8YeHvAAADuHh64AAAVaHh+bgAA7
h8mNzJ/+HX+1u/aGpa7iAAAAAAAA4CFG2P//4EzZG2RtkqGeP361r+v2/GtXr/j6460HJKoI68Pkvw6EYw/kh/I/kP5fyKVohH5n
53mSZiwZoP8H7GYP8bcGF1XCaF+CGZHDhwZ4/frWv6/b8a1ev+PrjrQAAAAAAAAcIUDaRgjBwA==
"""
}
