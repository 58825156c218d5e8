/// The version of gigachatd and gigachatctl (they ship together): `--version`, `status`, User-Agent and the
/// Debian package all read it here.
public enum GigaChatDVersion {
    public static let current = "0.1.0"
}
