using System.Collections.Generic;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;

namespace S3Mount.Commands;

/// <summary>
/// The package sources of Install-MountpointS3, as parameter sets (Official, Url, S3, File, DistributionRepository),
/// turned into one <see cref="InstallRequest"/>: the same choices wherever a cmdlet installs Mountpoint.
/// </summary>
internal static class InstallSources
{
    public const string Official = "Official";
    public const string Url = "Url";
    public const string S3 = "S3";
    public const string File = "File";
    public const string Distro = "DistributionRepository";

    /// <summary>
    /// The request for the parameter set and values; validated (an s3:// source with placeholder URLs, since it is
    /// presigned only when the script is made). Bad values throw <see cref="S3MountException"/>.
    /// </summary>
    public static InstallRequest Request(string set, string? version, string? packageUrl, string? signatureUrl, string? packageS3Uri, string? packagePath,
        string? signaturePath, string? releaseUrl, string? keysUrl, bool allowVersionChange, bool skipSignatureCheck, IEnumerable<string>? trustedFingerprints)
    {
        var request = set switch
        {
            Url => InstallRequest.FromUrl(packageUrl!),
            S3 => InstallRequest.FromS3(packageS3Uri!),
            File => InstallRequest.FromFile(packagePath!),
            Distro => new InstallRequest { Source = PackageSourceKind.DistroRepository },
            _ => InstallRequest.Official(version),
        };
        if (set != Official && set != Distro)
        {
            request.Version = version;
        }

        if (releaseUrl is not null)
        {
            request.BaseUrl = releaseUrl;
        }

        request.SignatureUrl = signatureUrl ?? request.SignatureUrl;
        request.SignaturePath = signaturePath ?? request.SignaturePath;
        request.KeysUrl = keysUrl ?? request.KeysUrl;
        request.AllowVersionChange = allowVersionChange;
        request.SkipSignatureCheck = skipSignatureCheck;
        foreach (var f in trustedFingerprints ?? System.Array.Empty<string>())
        {
            request.ExtraTrustedFingerprints.Add(f);
        }

        _ = InstallOperations.Install(request.Source == PackageSourceKind.S3 ? WithPlaceholderUrls(request) : request);
        return request;
    }

    private static InstallRequest WithPlaceholderUrls(InstallRequest r)
    {
        var copy = InstallRequest.FromS3(r.S3Uri!);
        copy.PackageUrl = "https://example.invalid/package";
        copy.SignatureUrl = "https://example.invalid/package.asc";
        copy.SkipSignatureCheck = r.SkipSignatureCheck;
        copy.Version = r.Version;
        copy.KeysUrl = r.KeysUrl;
        foreach (var f in r.ExtraTrustedFingerprints)
        {
            copy.ExtraTrustedFingerprints.Add(f);
        }

        return copy;
    }
}
