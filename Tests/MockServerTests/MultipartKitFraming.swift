import Foundation
@testable import ForwarderSimulation
import MultipartKit
import NIOCore

/// multipart-kit's reading of a body, as the mock read bodies before `MultipartFraming`: the
/// reference the mock's own reader is held to.
///
/// The whole body goes to one `execute`; a part is the headers and body pieces the callbacks
/// gave between two `onPartComplete`s. Only for bodies without non-ASCII header blocks
/// (`UploadReader.hasNonASCIIHeaderBlock`): multipart-kit stops the process on those.
enum MultipartKitFraming {
    static func parts(of body: ByteBuffer, boundary: String) throws(MockRejection) -> [MultipartFraming.Part] {
        let collector = Collector()
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in collector.header(name: name, value: value) }
        parser.onBody = { buffer in collector.body(buffer) }
        parser.onPartComplete = { collector.complete() }
        do {
            try parser.execute(body)
        } catch {
            throw MockRejection(status: 400, detail: "malformed multipart body")
        }
        guard !collector.isInsidePart else {
            throw MockRejection(status: 400, detail: "multipart body ends inside a part (no closing boundary)")
        }
        guard !collector.parts.isEmpty else {
            throw MockRejection(status: 400, detail: "no files in the multipart body")
        }
        return collector.parts
    }

    /// Accumulates the parser's callbacks into whole parts.
    private final class Collector {
        private(set) var parts: [MultipartFraming.Part] = []
        private var current = MultipartFraming.Part()
        private(set) var isInsidePart = false

        func header(name: String, value: String) {
            isInsidePart = true
            current.headers.append(MockHeader(name, value))
        }

        func body(_ buffer: ByteBuffer) {
            isInsidePart = true
            current.body.append(contentsOf: buffer.readableBytesView)
        }

        func complete() {
            parts.append(current)
            current = MultipartFraming.Part()
            isInsidePart = false
        }
    }
}
