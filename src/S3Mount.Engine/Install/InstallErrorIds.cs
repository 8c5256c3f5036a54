namespace S3Mount.Engine.Install;

/// <summary>Error ids of installing and reporting Mountpoint. Part of the public contract: never rename one.</summary>
public static class InstallErrorIds
{
    /// <summary>The node's distribution (or its release) has no supported Mountpoint package.</summary>
    public const string OsUnsupported = "S3MountOsUnsupported";

    /// <summary><c>uname -m</c> is neither x86_64 nor aarch64.</summary>
    public const string ArchitectureUnsupported = "S3MountArchitectureUnsupported";

    /// <summary>A package URL, file path, S3 URI or keys location is not acceptable (http, relative, malformed, not presigned).</summary>
    public const string SourceInvalid = "S3MountSourceInvalid";

    /// <summary>The distribution repository was asked for on a node whose distribution does not ship mount-s3.</summary>
    public const string SourceUnsupported = "S3MountSourceUnsupported";

    /// <summary>A trusted fingerprint is not 40 hex digits.</summary>
    public const string FingerprintInvalid = "S3MountFingerprintInvalid";

    /// <summary>Neither curl nor wget on the node.</summary>
    public const string DownloaderMissing = "S3MountDownloaderMissing";

    /// <summary>The package, its signature or the keys could not be downloaded (HTTP error, network).</summary>
    public const string DownloadFailed = "S3MountDownloadFailed";

    /// <summary>gpg is not installed on the node (and the signature check was not skipped).</summary>
    public const string GpgMissing = "S3MountGpgMissing";

    /// <summary>The signature is missing, does not verify, or was made by a key that is not trusted.</summary>
    public const string SignatureInvalid = "S3MountSignatureInvalid";

    /// <summary>The package file given with -Path does not exist on the node.</summary>
    public const string PackageNotFound = "S3MountPackageNotFound";

    /// <summary>The file is not a mount-s3 package of the node's format.</summary>
    public const string PackageInvalid = "S3MountPackageInvalid";

    /// <summary>The package holds another version than the one asked.</summary>
    public const string PackageVersionMismatch = "S3MountPackageVersionMismatch";

    /// <summary>Another version is installed and -AllowVersionChange was not given.</summary>
    public const string VersionChangeRefused = "S3MountVersionChangeRefused";

    /// <summary>The simulated install would remove packages (fuse replacing fuse3, ...).</summary>
    public const string InstallWouldRemove = "S3MountInstallWouldRemove";

    /// <summary>The package manager stayed locked by another process through every retry.</summary>
    public const string PackageManagerBusy = "S3MountPackageManagerBusy";

    /// <summary>The package manager failed, or the installed binary does not report the expected version.</summary>
    public const string InstallFailed = "S3MountInstallFailed";

    /// <summary>An s3:// package could not be presigned on the admin side.</summary>
    public const string PresignFailed = "S3MountPresignFailed";
}
