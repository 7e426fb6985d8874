/// Runs `schemathesis` (installed by `scripts/services.sh`) against a running gateway's
/// `/openapi.json`, as a freshly registered user: every operation of the document, fuzzed, checked
/// for server errors and for responses the document does not allow.
public enum Schemathesis {
    /// - Returns: schemathesis's output; status 0 means every check passed.
    public static func run(against base: String, examples: Int = 50) async throws -> ExternalTool.Output {
        let login = #"-H 'Content-Type: application/json' -d '{"email":"fuzz@example.com","password":"a long passphrase"}'"#
        let script = """
        set -e
        curl -sf \(base)/v1/auth/register \(login) > /dev/null
        TOKEN=$(curl -sf \(base)/v1/auth/login \(login) | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
        schemathesis run \(base)/openapi.json -H "Authorization: Bearer $TOKEN" --max-examples \(examples) --seed 1 \\
          --checks not_a_server_error,response_schema_conformance,content_type_conformance
        """
        return try await ExternalTool.run("/bin/bash", ["-c", script])
    }
}
