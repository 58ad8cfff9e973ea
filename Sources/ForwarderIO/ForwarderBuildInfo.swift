/// What this build of the forwarder is, for `--version`, `version` and the metrics' build-info gauge.
///
/// The version follows the Python forwarder it replaces (v1.5.2): this port is 2.x.
public enum ForwarderBuildInfo {
    /// The release version, bumped by hand when a release is cut.
    public static let version = "2.0.0"
}
