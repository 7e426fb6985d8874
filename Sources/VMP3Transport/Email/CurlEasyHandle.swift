import CCurl
import Foundation

/// One libcurl easy handle and everything it points into (recipient list, upload bytes, error
/// buffer), freed together in `deinit`. Used by one thread at a time; nothing outside sees a
/// C pointer.
final class CurlEasyHandle {
    /// The bytes an upload reads, and how far it has got.
    private final class Upload {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    /// What `curl_easy_perform` reported, with libcurl's own words for it.
    struct Failure: Error {
        var code: CURLcode
        var message: String
        /// The last response code of the protocol (an SMTP reply code), 0 if none came.
        var responseCode: Int
    }

    private let handle: UnsafeMutableRawPointer
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    private var upload: Upload?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    /// libcurl's global state, set up once per process before the first handle (it is not
    /// thread-safe to do it later, from several threads).
    private static let globalInitialization: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    init() throws {
        guard Self.globalInitialization == CURLE_OK, let handle = curl_easy_init() else {
            throw Failure(code: CURLE_FAILED_INIT, message: "libcurl could not be initialised", responseCode: 0)
        }
        self.handle = handle
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        // Several handles run at once on different threads: no signals (they would hit any thread).
        set(CURLOPT_NOSIGNAL, 1)
        vmp3_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
    }

    deinit {
        curl_easy_cleanup(handle)
        lists.forEach { curl_slist_free_all($0) }
        errorBuffer.deallocate()
    }

    func set(_ option: CURLoption, _ value: Int) {
        vmp3_curl_setopt_long(handle, option, value)
    }

    /// libcurl copies strings it is given, so `value` need not outlive the call.
    func set(_ option: CURLoption, _ value: String) {
        vmp3_curl_setopt_string(handle, option, value)
    }

    /// Sets a list option (recipients, headers); the list lives as long as the handle.
    func set(_ option: CURLoption, list values: [String]) {
        var list: UnsafeMutablePointer<curl_slist>?
        for value in values { list = curl_slist_append(list, value) }
        guard let list else { return }
        lists.append(list)
        vmp3_curl_setopt_slist(handle, option, list)
    }

    /// Makes the transfer an upload of `bytes`.
    func setUpload(_ bytes: [UInt8]) {
        let upload = Upload(bytes)
        self.upload = upload
        set(CURLOPT_UPLOAD, 1)
        set(CURLOPT_INFILESIZE_LARGE, bytes.count)
        vmp3_curl_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(upload).toOpaque())
        vmp3_curl_setopt_read_function(handle) { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            let upload = Unmanaged<Upload>.fromOpaque(context).takeUnretainedValue()
            let length = min(size * count, upload.bytes.count - upload.offset)
            upload.bytes.withUnsafeBufferPointer { source in
                UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + upload.offset, byteCount: length)
            }
            upload.offset += length
            return length
        }
    }

    /// Runs the transfer, blocking the calling thread until it ends.
    func perform() throws(Failure) {
        let code = curl_easy_perform(handle)
        guard code != CURLE_OK else { return }
        var responseCode = 0
        withUnsafeMutablePointer(to: &responseCode) { pointer in
            _ = vmp3_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, pointer)
        }
        let detail = String(cString: errorBuffer)
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        throw Failure(code: code, message: message, responseCode: responseCode)
    }
}
