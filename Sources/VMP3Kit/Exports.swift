// The umbrella module: `import VMP3Kit` gives an embedding program the whole pipeline: the
// C-free core (jobs, seams, embedded backends, worker), the sandboxed converter's parent side and
// the FFmpeg/LAME converter. A program that never converts imports `VMP3Core` alone and links no
// FFmpeg; one that converts only in children (`SandboxedConverter`) imports `VMP3Sandbox`.
@_exported import VMP3Core
@_exported import VMP3Sandbox
@_exported import VMP3MediaConverter
