// The conversion child of VMP3's sandboxed converter: started by it, never by hand. It reads one
// request from descriptor 3, confines itself, converts descriptor 0 into descriptor 1 and answers
// on descriptor 3 (see SandboxedConverter in VMP3Sandbox, ConversionChild in VMP3MediaConverter).
import VMP3MediaConverter

ConversionChild.main()
