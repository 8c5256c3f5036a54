using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Engine.Install;

/// <summary>
/// Renders the install and report operations into node scripts, and reads their results. Input is validated here:
/// a bad request throws and no script exists to run. The node decides the package (format, architecture) itself.
/// </summary>
public static class InstallOperations
{
    /// <summary>
    /// The primary-key fingerprints of the Mountpoint release signing keys (from the mountpoint-s3 release notes):
    /// the current key (since 1.22.2) and the one older releases were signed with.
    /// </summary>
    public static IReadOnlyList<string> MountpointKeyFingerprints { get; } = new[]
    {
        "8AEFE705EBE329C0948C75A66F1C3B3AEF4B030B",
        "673FE4061506BB469A0EF857BE397A52B086DA5A",
    };

    private static readonly string[] Libraries = { "mountpoint" };

    /// <summary>Install Mountpoint on the node as the request says (idempotent: the asked version already there is a no-op).</summary>
    public static NodeScript Install(InstallRequest request)
    {
        if (request is null)
        {
            throw new ArgumentNullException(nameof(request));
        }

        var version = NormalizeVersion(request.Version);
        var root = NodeOperations.NormalizeRoot(request.Root);
        var p = new Dictionary<string, string>
        {
            ["ROOT"] = root,
            ["OS_RELEASE"] = root.Length > 0 ? root + "/etc/os-release" : request.OsReleasePath,
            ["MACHINE"] = request.Machine ?? string.Empty,
            ["PLAN_ONLY"] = Flag(request.PlanOnly),
            ["VERSION"] = version ?? string.Empty,
            ["SOURCE"] = string.Empty,
            ["BASE_URL"] = string.Empty,
            ["PKG_URL"] = string.Empty,
            ["SIG_URL"] = string.Empty,
            ["PKG_FILE"] = string.Empty,
            ["SIG_FILE"] = string.Empty,
            ["KEYS_URL"] = string.Empty,
            ["KEYS_FILE"] = string.Empty,
            ["SOURCE_LABEL"] = string.Empty,
            ["TRUSTED_FPRS"] = string.Join(" ", TrustedFingerprints(request)),
            ["SKIP_SIG"] = Flag(request.SkipSignatureCheck),
            ["ALLOW_CHANGE"] = Flag(request.AllowVersionChange),
            ["LOCK_TRIES"] = Range(request.LockRetries, 1, 100, "LockRetries"),
            ["LOCK_SLEEP"] = Range(request.LockRetryDelaySeconds, 0, 300, "LockRetryDelaySeconds"),
        };

        var baseUrl = (request.BaseUrl ?? InstallRequest.OfficialBaseUrl).TrimEnd('/');
        switch (request.Source)
        {
            case PackageSourceKind.Official:
                p["SOURCE"] = "official";
                p["BASE_URL"] = CheckUrl(baseUrl, "The release base URL (BaseUrl)");
                p["SOURCE_LABEL"] = baseUrl + " (" + (version ?? "latest") + ")";
                p["KEYS_URL"] = CheckUrl(request.KeysUrl ?? baseUrl + "/public_keys/KEYS", "The signing keys URL");
                break;
            case PackageSourceKind.Url:
                p["SOURCE"] = "url";
                p["PKG_URL"] = CheckUrl(request.PackageUrl, "The package URL");
                p["SIG_URL"] = CheckUrl(request.SignatureUrl ?? WithAsc(request.PackageUrl!), "The signature URL");
                p["SOURCE_LABEL"] = WithoutQuery(request.PackageUrl!);
                p["KEYS_URL"] = CheckUrl(request.KeysUrl ?? InstallRequest.OfficialKeysUrl, "The signing keys URL");
                break;
            case PackageSourceKind.S3:
                var (bucket, key) = S3PackagePresigner.ParseS3Uri(request.S3Uri);
                if (string.IsNullOrEmpty(request.PackageUrl) || (!request.SkipSignatureCheck && string.IsNullOrEmpty(request.SignatureUrl)))
                {
                    throw new S3MountException(InstallErrorIds.SourceInvalid, S3MountErrorKind.InvalidArgument,
                        $"s3://{bucket}/{key} has not been presigned: resolve the request with S3PackagePresigner.Presign first (nodes download through a short-lived presigned URL and need no S3 permission).",
                        request.S3Uri);
                }

                p["SOURCE"] = "url";
                p["PKG_URL"] = CheckUrl(request.PackageUrl, "The presigned package URL");
                p["SIG_URL"] = request.SkipSignatureCheck && string.IsNullOrEmpty(request.SignatureUrl) ? string.Empty : CheckUrl(request.SignatureUrl, "The presigned signature URL");
                p["SOURCE_LABEL"] = $"s3://{bucket}/{key}";
                p["KEYS_URL"] = CheckUrl(request.KeysUrl ?? InstallRequest.OfficialKeysUrl, "The signing keys URL");
                break;
            case PackageSourceKind.File:
                p["SOURCE"] = "file";
                p["PKG_FILE"] = CheckPath(request.PackagePath, "The package file (-PackagePath)");
                p["SIG_FILE"] = CheckPath(request.SignaturePath ?? request.PackagePath + ".asc", "The signature file");
                p["SOURCE_LABEL"] = request.PackagePath!;
                p["KEYS_URL"] = request.KeysPath is null ? CheckUrl(request.KeysUrl ?? InstallRequest.OfficialKeysUrl, "The signing keys URL") : string.Empty;
                break;
            case PackageSourceKind.DistroRepository:
                p["SOURCE"] = "distro";
                p["SOURCE_LABEL"] = "distro";
                break;
            default:
                throw new S3MountException(InstallErrorIds.SourceInvalid, S3MountErrorKind.InvalidArgument, "Unknown package source " + request.Source + ".", request.Source);
        }

        if (request.KeysPath is not null)
        {
            p["KEYS_FILE"] = CheckPath(request.KeysPath, "The signing keys file (KeysPath)");
        }

        return NodeScript.Compose("install", p, Libraries);
    }

    /// <summary>
    /// Report the node (OS, architecture, package format) and the installed mount-s3, changing nothing; with
    /// <paramref name="root"/>, of an offline image (its os-release and package database; nothing of it runs).
    /// </summary>
    public static NodeScript Report(string? root = null)
    {
        var r = NodeOperations.NormalizeRoot(root);
        return Report(r + "/etc/os-release", null, r);
    }

    internal static NodeScript Report(string osReleasePath, string? machine, string root = "") =>
        NodeScript.Compose("report", new Dictionary<string, string>
        {
            ["ROOT"] = root,
            ["OS_RELEASE"] = osReleasePath,
            ["MACHINE"] = machine ?? string.Empty,
        }, Libraries);

    /// <summary>The result of an install script; its error (a refusal, a bad signature...) as an <see cref="S3MountException"/>.</summary>
    public static MountpointInstallation ParseInstall(ResultBlock block, object? target = null)
    {
        if (block is null)
        {
            throw new ArgumentNullException(nameof(block));
        }

        NodeResultParser.ThrowIfError(block, target);
        var changed = block.First("changed") ?? throw new S3MountException("S3MountResultMissing", S3MountErrorKind.InvalidData, "The install script reported no result.", target);
        var result = ReadNode(block);
        result.Changed = changed[0] == "1";
        var source = block.First("source");
        result.PackageSource = source?[0];
        var previous = block.First("previous");
        result.PreviousVersion = previous is null ? null : ParseVersion(previous[0]);
        result.SignedBy = block.First("verified")?[0] is { Length: > 0 } f ? f : null;
        return result;
    }

    /// <summary>The result of a report script.</summary>
    public static MountpointInstallation ParseReport(ResultBlock block, object? target = null)
    {
        if (block is null)
        {
            throw new ArgumentNullException(nameof(block));
        }

        NodeResultParser.ThrowIfError(block, target);
        var result = ReadNode(block);
        var unsupported = block.First("unsupported");
        result.Supported = unsupported is null;
        result.UnsupportedReason = unsupported?[1];
        result.PackageSource = result.InstalledPackage;
        return result;
    }

    /// <summary>The plan records of a plan-only run (tests).</summary>
    internal static InstallPlan ParsePlan(ResultBlock block)
    {
        NodeResultParser.ThrowIfError(block, null);
        var os = block.First("os");
        var arch = block.First("arch");
        var plan = block.First("plan");
        return new InstallPlan
        {
            OsId = os?[0] ?? string.Empty,
            OsVersion = os?[1] ?? string.Empty,
            Machine = arch?[0] ?? string.Empty,
            Architecture = arch?[1] ?? string.Empty,
            Format = plan?[0] ?? string.Empty,
            PackageManager = plan?[1] ?? string.Empty,
            FusePackages = plan?[2] ?? string.Empty,
            DistroRepository = plan?[3] == "1",
            Url = block.First("url")?[0] ?? string.Empty,
            Warnings = block.All("warning").Select(r => r[0]).ToList(),
        };
    }

    /// <summary>A release number as the release bucket spells it (<c>1.23.0</c>), or null for the latest.</summary>
    public static string? NormalizeVersion(string? version)
    {
        if (string.IsNullOrWhiteSpace(version) || string.Equals(version!.Trim(), "latest", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (!MountpointVersion.TryParse(version, out var v) || v!.Build is not null || version.IndexOf('-') >= 0)
        {
            throw new S3MountException(ErrorIds.VersionInvalid, S3MountErrorKind.InvalidArgument,
                $"'{version}' is not a Mountpoint release number: give one such as 1.23.0, or none for the latest.", version);
        }

        return v.Core;
    }

    private static MountpointInstallation ReadNode(ResultBlock block)
    {
        var os = block.First("os");
        var arch = block.First("arch");
        var plan = block.First("plan");
        var installed = block.First("installed");
        var result = new MountpointInstallation
        {
            ComputerName = block.First("host")?[0],
            OsId = os?[0] ?? string.Empty,
            OsVersion = os?[1] ?? string.Empty,
            Machine = arch?[0] ?? string.Empty,
            Architecture = arch is null ? string.Empty : (arch[1].Length > 0 ? arch[1] : arch[0]),
            PackageFormat = plan?[0] ?? string.Empty,
            PackageManager = plan?[1] ?? string.Empty,
            Warnings = block.All("warning").Select(r => r[0]).ToList(),
        };
        if (installed is not null && installed[1].Length > 0)
        {
            result.VersionText = installed[0].Length > 0 ? installed[0] : null;
            result.InstalledVersion = ParseVersion(installed[0]);
            result.BinaryPath = installed[1];
            result.InstalledPackage = installed[2].Length > 0 ? installed[2] : null;
        }

        return result;
    }

    private static MountpointVersion? ParseVersion(string text) =>
        MountpointVersion.TryParse(text, out var v) ? v : null;

    private static IEnumerable<string> TrustedFingerprints(InstallRequest request)
    {
        var all = new List<string>(MountpointKeyFingerprints);
        foreach (var f in request.ExtraTrustedFingerprints)
        {
            var n = new string((f ?? string.Empty).Where(c => !char.IsWhiteSpace(c)).ToArray()).ToUpperInvariant();
            if (n.Length != 40 || n.Any(c => !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))))
            {
                throw new S3MountException(InstallErrorIds.FingerprintInvalid, S3MountErrorKind.InvalidArgument,
                    $"'{f}' is not an OpenPGP key fingerprint: give the primary key's 40 hex digits (gpg --with-colons --fingerprint, the fpr line).", f);
            }

            if (!all.Contains(n))
            {
                all.Add(n);
            }
        }

        return all;
    }

    private static string CheckUrl(string? url, string what)
    {
        if (!InstallRequest.IsAllowedUrl(url, out var reason))
        {
            throw new S3MountException(InstallErrorIds.SourceInvalid, S3MountErrorKind.InvalidArgument,
                $"{what} '{WithoutQuery(url ?? string.Empty)}' is refused: {reason}.", url is null ? null : WithoutQuery(url));
        }

        return url!;
    }

    private static string CheckPath(string? path, string what)
    {
        if (string.IsNullOrEmpty(path) || path![0] != '/' || path.Any(char.IsControl) || path.EndsWith("/", StringComparison.Ordinal))
        {
            throw new S3MountException(InstallErrorIds.SourceInvalid, S3MountErrorKind.InvalidArgument,
                $"{what} '{path}' must be an absolute path to a file on the node, without control characters.", path);
        }

        return path;
    }

    /// <summary>The URL plus <c>.asc</c>, inserted before any query string.</summary>
    internal static string WithAsc(string url)
    {
        var q = url.IndexOf('?');
        return q < 0 ? url + ".asc" : url.Substring(0, q) + ".asc" + url.Substring(q);
    }

    private static string WithoutQuery(string url)
    {
        var q = url.IndexOf('?');
        return q < 0 ? url : url.Substring(0, q);
    }

    private static string Flag(bool value) => value ? "1" : "0";

    private static string Range(int value, int min, int max, string name) =>
        value < min || value > max
            ? throw new S3MountException(ErrorIds.OptionInvalid, S3MountErrorKind.InvalidArgument, $"{name} = {value} is out of range ({min} to {max}).", value)
            : value.ToString(CultureInfo.InvariantCulture);
}
