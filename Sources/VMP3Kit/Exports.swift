// The umbrella module: `import VMP3Kit` gives an embedding program the whole pipeline, the
// C-free core (jobs, seams, embedded backends, worker) and the FFmpeg/LAME converter. A program
// that never converts imports `VMP3Core` alone and links no FFmpeg.
@_exported import VMP3Core
@_exported import VMP3MediaConverter
