using System;
using System.Collections.Generic;

namespace S3Mount.Engine.Install;

/// <summary>Where the Mountpoint package comes from.</summary>
public enum PackageSourceKind
{
    /// <summary>The official release bucket (<see cref="InstallRequest.BaseUrl"/>): latest, or the pinned version.</summary>
    Official,

    /// <summary>A URL the user gives (https), with its detached signature at the same URL plus <c>.asc</c>.</summary>
    Url,

    /// <summary>An <c>s3://bucket/key</c>: the admin side presigns it (<see cref="S3PackagePresigner"/>); nodes need no permission.</summary>
    S3,

    /// <summary>A package file already on the node, with its <c>.asc</c> next to it.</summary>
    File,

    /// <summary>
    /// The distribution's own repository (Amazon Linux 2023 only: <c>dnf install mount-s3</c>, signature checked by dnf
    /// with the distribution's keys). Opt-in: Official stays the default on Amazon Linux 2023 too, so a mixed fleet gets
    /// the same release numbers, the same pinned signing keys and the same version pinning everywhere; the distro
    /// package lags the releases and carries its own build suffix (<c>1.21.0+1.amzn2023</c>).
    /// </summary>
    DistroRepository,
}

/// <summary>What to install, from where, and how far to trust it.</summary>
public sealed class InstallRequest
{
    /// <summary>The release bucket.</summary>
    public const string OfficialBaseUrl = "https://s3.amazonaws.com/mountpoint-s3-release";

    /// <summary>The release signing keys.</summary>
    public const string OfficialKeysUrl = OfficialBaseUrl + "/public_keys/KEYS";

    /// <summary>A release such as <c>1.23.0</c>; null means the latest (and, with something installed, nothing to do unless <see cref="AllowVersionChange"/>).</summary>
    public string? Version { get; set; }

    public PackageSourceKind Source { get; set; } = PackageSourceKind.Official;

    /// <summary>The release bucket layout's base URL (Official). Override for a mirror; tests use a loopback server.</summary>
    public string BaseUrl { get; set; } = OfficialBaseUrl;

    /// <summary>The package URL (Url), or the presigned URL that <see cref="S3PackagePresigner"/> set (S3).</summary>
    public string? PackageUrl { get; set; }

    /// <summary>The signature URL; default: the package URL plus <c>.asc</c> (before any query string).</summary>
    public string? SignatureUrl { get; set; }

    /// <summary>The <c>s3://bucket/key</c> of the package (S3); its signature is <c>key.asc</c>.</summary>
    public string? S3Uri { get; set; }

    /// <summary>The package file on the node (File).</summary>
    public string? PackagePath { get; set; }

    /// <summary>The signature file on the node; default: the package path plus <c>.asc</c>.</summary>
    public string? SignaturePath { get; set; }

    /// <summary>Where the signing keys are downloaded from; default <c>BaseUrl/public_keys/KEYS</c> for Official, else the official KEYS.</summary>
    public string? KeysUrl { get; set; }

    /// <summary>A keys file on the node instead of <see cref="KeysUrl"/> (air-gapped nodes).</summary>
    public string? KeysPath { get; set; }

    /// <summary>
    /// Primary-key fingerprints trusted in addition to the pinned Mountpoint release keys. Meant for tests (a test
    /// signing key); real packages never need it.
    /// </summary>
    public IList<string> ExtraTrustedFingerprints { get; } = new List<string>();

    /// <summary>Install without checking the signature. Explicit, and reported as a warning.</summary>
    public bool SkipSignatureCheck { get; set; }

    /// <summary>Replace an installed mount-s3 of another version (upgrade or downgrade).</summary>
    public bool AllowVersionChange { get; set; }

    /// <summary>How many times a package manager command is tried while another process holds its lock (1 to 100).</summary>
    public int LockRetries { get; set; } = 10;

    /// <summary>Seconds between those tries (0 to 300).</summary>
    public int LockRetryDelaySeconds { get; set; } = 6;

    // Test hooks: the os-release file and uname -m the script reads, and a run that only prints the plan.
    internal string OsReleasePath { get; set; } = "/etc/os-release";

    /// <summary>
    /// An offline image root to install into (an AMI or chroot build): the image's own package manager runs in a chroot,
    /// its os-release decides the package; the signature is checked on this machine first. Null for this node.
    /// </summary>
    public string? Root { get; set; }

    internal string? Machine { get; set; }

    internal bool PlanOnly { get; set; }

    /// <summary>The latest release, or the pinned one, from the release bucket.</summary>
    public static InstallRequest Official(string? version = null) => new() { Version = version };

    /// <summary>A package at an https URL (signature at URL.asc).</summary>
    public static InstallRequest FromUrl(string url) => new() { Source = PackageSourceKind.Url, PackageUrl = url };

    /// <summary>A package in S3; presign it with <see cref="S3PackagePresigner"/> before composing the script.</summary>
    public static InstallRequest FromS3(string s3Uri) => new() { Source = PackageSourceKind.S3, S3Uri = s3Uri };

    /// <summary>A package file already on the node (signature next to it).</summary>
    public static InstallRequest FromFile(string path) => new() { Source = PackageSourceKind.File, PackagePath = path };

    /// <summary>
    /// The URL rule for packages, signatures and keys: an absolute <c>https://</c> URL with a host; plain <c>http://</c>
    /// only to the IPv4 loopback literal <c>127.0.0.1</c> (a test server on the node itself: nothing crosses a network).
    /// Not <c>localhost</c>, not <c>::1</c>, not any other host. Redirects must stay on https (the script enforces it).
    /// </summary>
    public static bool IsAllowedUrl(string? url, out string reason)
    {
        reason = string.Empty;
        if (string.IsNullOrWhiteSpace(url))
        {
            reason = "it is empty";
            return false;
        }

        foreach (var c in url!)
        {
            if (char.IsControl(c) || c == ' ')
            {
                reason = "it contains spaces or control characters";
                return false;
            }
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var u) || string.IsNullOrEmpty(u.Host))
        {
            reason = "it is not an absolute URL";
            return false;
        }

        if (u.Scheme == Uri.UriSchemeHttps && url.StartsWith("https://", StringComparison.Ordinal))
        {
            return true;
        }

        if (u.Scheme == Uri.UriSchemeHttp && url.StartsWith("http://127.0.0.1", StringComparison.Ordinal) && u.Host == "127.0.0.1")
        {
            return true;
        }

        reason = "only https:// is accepted (plain http only from 127.0.0.1, for tests)";
        return false;
    }
}
