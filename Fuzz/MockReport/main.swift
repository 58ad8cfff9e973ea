import Foundation

/// The mock's report parser: it never fails, keeps the text, reads Windows and Unix line endings
/// alike, and what it reads survives the JSON the mock serves it in.
@_cdecl("LLVMFuzzerTestOneInput")
public func mockReportFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)
    let report = BlastwareReport(parsing: bytes)
    require(report.rawText == text, "raw text not kept")
    for field in report.fields {
        let key = Array(field.key.utf8)
        require(!key.contains(UInt8(ascii: "\t")) && !key.contains(UInt8(ascii: "\r")) && !key.contains(UInt8(ascii: "\n")),
                "key \(field.key.debugDescription) not normalised")
        require(field.key.utf8.first != UInt8(ascii: " ") && field.key.utf8.last != UInt8(ascii: " ")
                    && !field.key.contains("  "), "key \(field.key.debugDescription) not trimmed and collapsed")
        require(report.field(field.key) != nil, "field \(field.key.debugDescription) not found by its own key")
    }
    var lastPosition = -1
    for note in report.userNotes {
        require(note.position > lastPosition, "user notes out of order: \(report.userNotes)")
        require(note.role == (note.position < UserNote.roles.count ? UserNote.roles[note.position] : nil),
                "note at \(note.position) has role \(String(describing: note.role))")
        lastPosition = note.position
    }
    require(report.tableRowCount >= 0, "table of \(report.tableRowCount) rows")
    let unixText = text.replacingOccurrences(of: "\r\n", with: "\n")
    if unixText != text {
        var unix = BlastwareReport(parsing: unixText)
        unix.rawText = text
        require(unix == report, "Windows line endings read differently from Unix ones")
    }
    let encoded: Data
    do {
        encoded = try JSONEncoder().encode(report)
    } catch {
        require(false, "the report does not encode as JSON: \(error)")
        return 0
    }
    let decoded = try? JSONDecoder().decode(BlastwareReport.self, from: encoded)
    require(decoded == report, "the report does not survive its JSON")
    return 0
}
