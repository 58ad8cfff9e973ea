import ForwarderCore
import Foundation

/// The config parser: an ini file either yields settings or an error that names a line, or a
/// known key with the value it was given; collecting every problem names known keys only.
///
/// The text is decoded as the loader decodes a config file: UTF-8, else Windows-1252.
@_cdecl("LLVMFuzzerTestOneInput")
public func settingsFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    guard let text = String(data: bytes, encoding: .utf8) ?? String(data: bytes, encoding: .windowsCP1252) else { return 0 }
    let values: [String: String]
    do {
        values = try IniFile.parse(text, path: "fuzz.ini")
    } catch let error as IniFileError {
        let lineCount = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).count
        require((1...max(lineCount, 1)).contains(error.line), "error on line \(error.line) of \(lineCount)")
        require(error.description.hasPrefix("fuzz.ini:\(error.line): "), "message \(error.description) names no line")
        return 0
    } catch {
        require(false, "IniFile.parse threw \(error)")
        return 0
    }
    for key in values.keys {
        require(key == EventFileRules.caseFoldedKey(key) && !key.isEmpty, "key \(key.debugDescription) is not upper case")
    }
    let layer = SettingsLayer(source: "fuzz.ini", values: values)
    let known = Set(SettingsResolver.Key.allCases.map(\.rawValue))
    do {
        let settings = try SettingsResolver.resolve([layer])
        require(settings.uploadConcurrency >= 1 && settings.uploadConcurrency <= 64, "concurrency \(settings.uploadConcurrency)")
        require(settings.passInterval > .zero, "pass interval \(settings.passInterval)")
        require(!settings.watchFolder.isEmpty && !settings.statePath.isEmpty, "empty folder or state path")
    } catch let error as SettingsError {
        checkNamesKey(error, values: values, known: known)
    } catch {
        require(false, "resolve threw \(error)")
    }
    switch SettingsResolver.resolveCollectingProblems([layer]) {
    case .success:
        break
    case .failure(let problems):
        require(!problems.errors.isEmpty, "a failure without problems")
        for error in problems.errors { checkNamesKey(error, values: values, known: known) }
    }
    return 0
}

/// The error names a documented key and the value the file gave it (the token only described).
private func checkNamesKey(_ error: SettingsError, values: [String: String], known: Set<String>) {
    require(known.contains(error.key), "error names unknown key \(error.key)")
    require(error.description.contains(error.key), "message \(error.description) does not name its key")
    guard error.key != SettingsResolver.Key.bearerToken.rawValue else {
        require(error.value.hasPrefix("<") && error.value.hasSuffix(" characters, not shown>"),
                "the token is shown in \(error.description)")
        return
    }
    if error.source == "fuzz.ini" {
        require(values[error.key] == error.value, "error shows \(error.value.debugDescription) for \(error.key), "
                    + "the file says \(String(describing: values[error.key]).debugDescription)")
    }
}
