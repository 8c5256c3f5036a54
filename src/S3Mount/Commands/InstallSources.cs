using System;
using System.Collections.Generic;
using System.Linq;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;

namespace S3Mount.Commands;

/// <summary>The install parameters, as Install-MountpointS3 and Export-S3MountBootstrap take them.</summary>
internal sealed class InstallChoices
{
    public string? Version { get; set; }
    public string? PackageUrl { get; set; }
    public string? SignatureUrl { get; set; }
    public string? PackageS3Uri { get; set; }
    public string? PackagePath { get; set; }
    public string? SignaturePath { get; set; }
    public bool DistributionRepository { get; set; }
    public string? ReleaseUrl { get; set; }
    public string? KeysUrl { get; set; }
    public bool AllowVersionChange { get; set; }
    public bool SkipSignatureCheck { get; set; }
    public string[]? TrustedFingerprint { get; set; }
}

/// <summary>
/// The package sources of Install-MountpointS3 turned into one <see cref="InstallRequest"/>: the same choices, and the
/// same refusals, wherever a cmdlet installs Mountpoint (on nodes now, or as a bootstrap's install step).
/// </summary>
internal static class InstallSources
{
    /// <summary>
    /// The request the choices name, validated (an s3:// source with placeholder URLs: it is presigned only when the
    /// script is made). <paramref name="path"/> turns -PackagePath and -SignaturePath (value, parameter name) into the
    /// path the node reads. Bad values throw <see cref="S3MountException"/>.
    /// </summary>
    public static InstallRequest Request(InstallChoices c, Func<string, string, string> path)
    {
        var request = Source(c) switch
        {
            PackageSourceKind.Url => InstallRequest.FromUrl(c.PackageUrl!),
            PackageSourceKind.S3 => InstallRequest.FromS3(c.PackageS3Uri!),
            PackageSourceKind.File => InstallRequest.FromFile(path(c.PackagePath!, "-PackagePath")),
            PackageSourceKind.DistroRepository => new InstallRequest { Source = PackageSourceKind.DistroRepository },
            _ => InstallRequest.Official(c.Version),
        };
        if (request.Source is not PackageSourceKind.Official and not PackageSourceKind.DistroRepository)
        {
            request.Version = c.Version;
        }

        if (c.ReleaseUrl is not null)
        {
            request.BaseUrl = c.ReleaseUrl;
        }

        request.SignatureUrl = c.SignatureUrl ?? request.SignatureUrl;
        if (c.SignaturePath is not null)
        {
            request.SignaturePath = path(c.SignaturePath, "-SignaturePath");
        }

        request.KeysUrl = c.KeysUrl ?? request.KeysUrl;
        request.AllowVersionChange = c.AllowVersionChange;
        request.SkipSignatureCheck = c.SkipSignatureCheck;
        foreach (var f in c.TrustedFingerprint ?? Array.Empty<string>())
        {
            request.ExtraTrustedFingerprints.Add(f);
        }

        // Validates the request before anything runs anywhere.
        _ = InstallOperations.Install(request.Source == PackageSourceKind.S3 ? WithPlaceholderUrls(request) : request);
        return request;
    }

    /// <summary>The one package source the choices name; two sources, or an option of another source, is refused.</summary>
    public static PackageSourceKind Source(InstallChoices c)
    {
        var given = new List<(string Parameter, PackageSourceKind Kind)>();
        if (c.PackageUrl is not null) given.Add(("-PackageUrl", PackageSourceKind.Url));
        if (c.PackageS3Uri is not null) given.Add(("-PackageS3Uri", PackageSourceKind.S3));
        if (c.PackagePath is not null) given.Add(("-PackagePath", PackageSourceKind.File));
        if (c.DistributionRepository) given.Add(("-DistributionRepository", PackageSourceKind.DistroRepository));
        if (given.Count > 1)
        {
            throw Conflict($"{string.Join(" and ", given.Select(g => g.Parameter))} name different packages: give one source.");
        }

        var kind = given.Count == 0 ? PackageSourceKind.Official : given[0].Kind;
        var label = given.Count == 0 ? "the official release" : given[0].Parameter;
        if (c.SignatureUrl is not null && kind != PackageSourceKind.Url) throw Conflict($"-SignatureUrl goes with -PackageUrl, not with {label}.");
        if (c.SignaturePath is not null && kind != PackageSourceKind.File) throw Conflict($"-SignaturePath goes with -PackagePath, not with {label}.");
        if (c.ReleaseUrl is not null && kind != PackageSourceKind.Official) throw Conflict($"-ReleaseUrl is a mirror of the official release bucket; it does not go with {label}.");
        if (kind == PackageSourceKind.DistroRepository && (c.Version is not null || c.KeysUrl is not null || c.TrustedFingerprint is not null || c.SkipSignatureCheck))
        {
            throw Conflict("-DistributionRepository installs the distribution's own package with dnf: -Version, -KeysUrl, -TrustedFingerprint and -SkipSignatureCheck do not apply.");
        }

        return kind;
    }

    /// <summary>A path on a node: absolute, as it is on the node (nothing is resolved on this machine).</summary>
    public static string NodePath(string path, string parameter, string? note = null) =>
        path.StartsWith("/", StringComparison.Ordinal)
            ? path
            : throw new S3MountException(ErrorIds.PathInvalid, S3MountErrorKind.InvalidArgument,
                $"{parameter} '{path}' is a path on the nodes (the package is already there): give it absolute, such as /tmp/mount-s3.deb." + (note is null ? string.Empty : " " + note), path);

    public static S3MountException Conflict(string message) =>
        new("S3MountParameterConflict", S3MountErrorKind.InvalidArgument, message, null);

    private static InstallRequest WithPlaceholderUrls(InstallRequest r)
    {
        var copy = InstallRequest.FromS3(r.S3Uri!);
        copy.PackageUrl = "https://example.invalid/package";
        copy.SignatureUrl = "https://example.invalid/package.asc";
        return copy;
    }
}
