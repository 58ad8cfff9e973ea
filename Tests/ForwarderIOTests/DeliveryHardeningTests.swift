import ForwarderCore
@testable import ForwarderIO
import Foundation
import HummingbirdTLS
import Testing

/// The hardening a user meets through the real executable: quarantine and `retry`, tokens, TLS.
@Suite("Delivery hardening")
struct DeliveryHardeningTests {
    /// A folder with `count` settled binaries without reports (past the grace period).
    func folderWithEvents(_ count: Int, label: String) throws -> TemporaryFolder {
        let folder = try TemporaryFolder(label)
        try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: true)
        for index in 0..<count {
            try folder.write("ach/" + eventName(index), eventBytes(index), ageSeconds: 600 - Double(index), now: FileTime(Date()))
        }
        return folder
    }

    @Test("Quarantine: refusals back off, then quarantine; status lists it; retry releases it and it goes")
    func quarantineAndRetry() async throws {
        let server = try await TinyImportServer.start()
        server.refuse([eventName(1)])
        let folder = try folderWithEvents(2, label: "quarantine")
        let executable = try builtProduct("event-forwarder")
        let settings = ["--watch", folder.file("ach"), "--state", folder.file("state")]
        let once = ["once"] + settings + ["--url", "http://127.0.0.1:\(server.port)", "--retry-base-seconds", "0.001",
                                          "--retry-max-seconds", "0.001", "--quarantine-after-rejections", "3"]
        var summaries: [String] = []
        for _ in 0..<4 {
            let run = try await runProcessOffPool(executable, once)
            summaries.append(run.standardOutput)
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(summaries[0].contains("forwarded=1") && summaries[0].contains("errors=1"))
        #expect(summaries[2].contains("quarantined=1"), "the third refusal quarantines")
        #expect(summaries[3].contains("skip.quarantined=1") && summaries[3].contains("errors=0"), "\(summaries[3])")
        #expect(server.receivedFileNames.filter { $0 == eventName(1) }.count == 3, "no automatic attempt after quarantine")

        let statusJSON = try await runProcessOffPool(executable, ["status", "--json"] + settings)
        let status = try JSONDecoder().decode(ForwarderStatus.self, from: Data(statusJSON.standardOutput.utf8))
        #expect(status.quarantined.map(\.fileName) == [eventName(1)])
        #expect(status.quarantined.first?.rejections == 3)
        #expect(status.quarantined.first?.lastError.contains("unsupported file") == true)
        let statusText = try await runProcessOffPool(executable, ["status"] + settings).standardOutput
        #expect(statusText.contains("quarantined:      1"))
        #expect(statusText.contains("\(eventName(1)): 3 refusals"))

        let unknown = try await runProcessOffPool(executable, ["retry", "K999ZZZZ.ZZZH"] + settings)
        #expect(unknown.status == 1)
        #expect(unknown.standardOutput.contains("not waiting: K999ZZZZ.ZZZH"))
        let neither = try await runProcessOffPool(executable, ["retry"] + settings)
        #expect(neither.status == 2, "names or --all are required")

        server.refuse([])
        let release = try await runProcessOffPool(executable, ["retry", eventName(1).lowercased()] + settings)
        #expect(release.status == 0, "\(release.standardError)")
        #expect(release.standardOutput.contains("released \(eventName(1))"))
        let after = try await runProcessOffPool(executable, once)
        #expect(after.status == 0)
        #expect(after.standardOutput.contains("forwarded=1"))
        let state = try FileStateStore(path: folder.file("state"), readOnly: true)
        #expect(state.count == 2)
        #expect(state.allAttempts().isEmpty)
        await server.shutdown()
    }

    @Test("Quarantine: retry beside a running forwarder leaves a request that the forwarder applies")
    func retryBesideRunningForwarder() async throws {
        let folder = try folderWithEvents(1, label: "retry-running")
        let store = try FileStateStore(path: folder.file("state"))
        let entry = try #require(try LocalEventFolder(path: folder.file("ach")).listEntries().first)
        try store.recordAttempts(DeliveryAttempts(fileName: entry.name, digest: EventDigest(of: eventBytes(0)),
                                                  fingerprint: entry.fingerprint, failures: 5, rejections: 5,
                                                  lastAttemptAt: FileTime(Date()), nextAttemptAt: FileTime(Date()),
                                                  quarantined: true, lastError: "HTTP 400: bad"))
        try store.sync()
        let release = try await runProcessOffPool(try builtProduct("event-forwarder"),
                                     ["retry", "--all", "--watch", folder.file("ach"), "--state", folder.file("state")])
        #expect(release.status == 0, "\(release.standardError)")
        #expect(release.standardOutput.contains("the running forwarder applies this before its next pass"))
        #expect(store.attempts(forName: entry.name)?.quarantined == true, "the holder's state is not touched from outside")

        let applied = try ReleaseRequestBox(statePath: folder.file("state")).applyPending(to: store)
        #expect(applied.released == [entry.name])
        #expect(store.attempts(forName: entry.name) == nil)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".release-") }
        #expect(leftovers.isEmpty, "an applied request is deleted")
        #expect(try ReleaseRequestBox(statePath: folder.file("state")).applyPending(to: store).released.isEmpty)
    }

    @Test("Token: sent as a bearer token from the environment, never printed in logs or status")
    func bearerTokenNeverPrinted() async throws {
        let token = "s3cr3t-TOKEN-4f9a"
        let server = try await TinyImportServer.start(requiredToken: token)
        let folder = try folderWithEvents(2, label: "token")
        let executable = try builtProduct("event-forwarder")
        let settings = ["--watch", folder.file("ach"), "--state", folder.file("state")]
        var printed = ""
        for format in ["json", "text"] {
            let run = try await runProcessOffPool(executable, ["once", "--url", "http://127.0.0.1:\(server.port)", "--log-format", format]
                                        + settings, environment: ["SFM_API_TOKEN": token])
            #expect(run.status == 0, "\(run.standardError)")
            printed += run.standardOutput + run.standardError
        }
        let status = try await runProcessOffPool(executable, ["status", "--json"] + settings, environment: ["SFM_API_TOKEN": token])
        printed += status.standardOutput + status.standardError
        #expect(server.authorizations == ["Bearer \(token)", "Bearer \(token)"])
        #expect(!printed.contains(token))
        #expect(!printed.contains("s3cr3t"))

        let wrong = try folderWithEvents(1, label: "token-wrong")
        let refused = try await runProcessOffPool(executable, ["once", "--url", "http://127.0.0.1:\(server.port)",
                                                  "--watch", wrong.file("ach"), "--state", wrong.file("state")],
                                     environment: ["SFM_API_TOKEN": "not-the-token"])
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("HTTP 401") && refused.standardError.contains("check SFM_API_TOKEN"))
        #expect(!refused.standardError.contains("not-the-token"))
        let waiting = try FileStateStore(path: wrong.file("state"), readOnly: true).allAttempts()
        #expect(waiting.map(\.rejections) == [0], "a credential refusal is retried, never counted toward quarantine")

        let badToken = try await runProcessOffPool(executable, ["status"] + settings, environment: ["SFM_API_TOKEN": "two words"])
        #expect(badToken.status == 2)
        #expect(badToken.standardError.contains("SFM_API_TOKEN") && !badToken.standardError.contains("two words"))
        await server.shutdown()
    }

    @Test("TLS: https verifies the server against SFM_CA_FILE; an unknown CA fails; a bad CA file exits 2")
    func httpsWithPrivateAuthority() async throws {
        let folder = try folderWithEvents(1, label: "tls")
        let openssl = try await runProcessOffPool(URL(fileURLWithPath: "/usr/bin/env"), [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", folder.file("key.pem"), "-out", folder.file("cert.pem")])
        #expect(openssl.status == 0, "\(openssl.standardError)")
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(folder.file("cert.pem")).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: folder.file("key.pem"), format: .pem)))
        let server = try await TinyImportServer.start(tls: tls)
        let executable = try builtProduct("event-forwarder")
        let base = ["once", "--url", "https://127.0.0.1:\(server.port)", "--watch", folder.file("ach"),
                    "--timeout-seconds", "600"]

        let untrusted = try await runProcessOffPool(executable, base + ["--state", folder.file("untrusted-state")])
        #expect(untrusted.status == 1)
        #expect(untrusted.standardError.uppercased().contains("CERTIFICATE"), "\(untrusted.standardError)")
        #expect(server.receivedFileNames.isEmpty)

        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: folder.file("junk.pem")))
        let junk = try await runProcessOffPool(executable, base + ["--state", folder.file("junk-state"), "--ca-file", folder.file("junk.pem")])
        #expect(junk.status == 2)
        #expect(junk.standardError.contains("SFM_CA_FILE") && junk.standardError.contains("junk.pem"))

        let trusted = try await runProcessOffPool(executable, base + ["--state", folder.file("state"), "--ca-file", folder.file("cert.pem")])
        #expect(trusted.status == 0, "\(trusted.standardError)")
        #expect(trusted.standardOutput.contains("forwarded=1"))
        #expect(server.receivedFileNames == [eventName(0)])
        await server.shutdown()
    }
}
