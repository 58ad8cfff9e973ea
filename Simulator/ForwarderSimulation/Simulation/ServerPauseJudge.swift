import ForwarderCore
import Foundation

/// What the checkers know of the pause a server asked for: read from the mock's own reply, with
/// a reading of `Retry-After` of their own (Foundation's date formatter, not the forwarder's
/// parser), so a wrong rule in the forwarder is caught rather than mirrored.
public enum ServerPauseJudge {
    /// The time before which the forwarder must start no upload after the mock's `reply`, or nil
    /// when the reply asks for no pause: only a 429 or 503 with `Retry-After` does, cut to a day.
    public static func resumeTime(after reply: MockReply, receivedAt: FileTime) -> FileTime? {
        guard case .respond(let response) = reply, response.status == 429 || response.status == 503,
              let header = response.header("Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        let oneDay: TimeInterval = 86_400
        let wait: TimeInterval
        if !header.isEmpty, header.allSatisfy({ $0.isASCII && $0.isNumber }) {
            wait = min(Double(header) ?? oneDay, oneDay)
        } else if let date = httpDate(header) {
            wait = min(date.timeIntervalSince(receivedAt.date), oneDay)
        } else {
            return nil
        }
        return wait > 0 ? receivedAt + .nanoseconds(Int64(wait * 1e9)) : nil
    }

    /// RFC 9110's three date forms (IMF-fixdate, RFC 850, asctime), read with Foundation.
    private static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
