using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using Amazon;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;

namespace S3Mount.Commands;

/// <summary>Reports the node (OS, architecture) and the installed mount-s3 version; changes nothing.</summary>
[Cmdlet(VerbsCommon.Get, "MountpointS3", DefaultParameterSetName = LocalSet)]
[OutputType(typeof(MountpointInstallation))]
public sealed class GetMountpointS3Command : NodeCmdlet
{
    /// <summary>An offline image root: report its OS and the mount-s3 package installed in it (nothing of the image runs).</summary>
    [Parameter(Mandatory = true, ParameterSetName = RootSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    public override string? Root { get => base.Root; set => base.Root = value; }

    protected override void ProcessRecord()
    {
        if (IsTargets)
        {
            return;
        }

        if (IsFleet)
        {
            foreach (var id in CurrentInstances())
            {
                QueueFleet(id, InstallOperations.Report(), id);
            }

            return;
        }

        if (!TryLocal(out var root))
        {
            return;
        }

        var block = RunLocal(InstallOperations.Report(root), null);
        try
        {
            WriteObject(MountpointInstallation.From(InstallOperations.ParseReport(block), null, root));
        }
        catch (S3MountException e)
        {
            Fail(e, root ?? LocalHostName);
        }
    }

    protected override void EndProcessing() =>
        RunFleet("Get-MountpointS3", b => InstallOperations.ParseReport(b), (id, r, _) => WriteObject(MountpointInstallation.From(r, id, null, CurrentCommandId)),
            IsTargets ? InstallOperations.Report() : null);
}

/// <summary>
/// Installs Mountpoint for Amazon S3 from a signature-checked package: the official release (latest or -Version), an
/// https URL, an s3:// object (presigned here, so nodes need no S3 permission), a file on the node, or the AL2023 repository.
/// </summary>
[Cmdlet(VerbsLifecycle.Install, "MountpointS3", DefaultParameterSetName = LocalSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(MountpointInstallation))]
public sealed class InstallMountpointS3Command : NodeCmdlet
{
    private InstallRequest? _request;
    private bool _presigned;

    /// <summary>An offline image root (AMI build): install the package into it with the image's own package manager, in a chroot.</summary>
    [Parameter(Mandatory = true, ParameterSetName = RootSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    public override string? Root { get => base.Root; set => base.Root = value; }

    /// <summary>The release to install, such as 1.23.0; latest when not given.</summary>
    [Parameter(Position = 0)]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string? Version { get; set; }

    /// <summary>An https URL of the package; its signature is at the same URL plus .asc unless -SignatureUrl says otherwise.</summary>
    [Parameter]
    public string? PackageUrl { get; set; }

    [Parameter]
    public string? SignatureUrl { get; set; }

    /// <summary>An s3://bucket/key of the package (and key.asc); presigned here for a short time.</summary>
    [Parameter]
    public string? PackageS3Uri { get; set; }

    /// <summary>A package file: on this machine (resolved like New-Item resolves paths) or, on a fleet, an absolute path on the node.</summary>
    [Parameter]
    public string? PackagePath { get; set; }

    [Parameter]
    public string? SignaturePath { get; set; }

    /// <summary>Amazon Linux 2023 only: install the distribution's mount-s3 package with dnf.</summary>
    [Parameter]
    public SwitchParameter DistributionRepository { get; set; }

    /// <summary>A mirror of the official release bucket layout (air-gapped networks).</summary>
    [Parameter]
    public string? ReleaseUrl { get; set; }

    /// <summary>Where the signing keys are read (default: the release bucket's public_keys/KEYS).</summary>
    [Parameter]
    public string? KeysUrl { get; set; }

    /// <summary>Install another version than the one installed (upgrade or downgrade).</summary>
    [Parameter]
    public SwitchParameter AllowVersionChange { get; set; }

    /// <summary>Do not verify the package signature (a warning is recorded). Never needed for real packages.</summary>
    [Parameter]
    public SwitchParameter SkipSignatureCheck { get; set; }

    /// <summary>Additional trusted key fingerprints (40 hex digits), for test or private packages.</summary>
    [Parameter]
    public string[]? TrustedFingerprint { get; set; }

    // The request is built with the first record, when the mode is known (a piped -InstanceId decides it only then):
    // a package path is a path of this machine locally, and of the nodes on a fleet.
    private void Prepare()
    {
        if (_request is not null)
        {
            return;
        }

        try
        {
            var request = Source() switch
            {
                PackageSourceKind.Url => InstallRequest.FromUrl(PackageUrl!),
                PackageSourceKind.S3 => InstallRequest.FromS3(PackageS3Uri!),
                PackageSourceKind.File => InstallRequest.FromFile(IsFleet ? NodePath(PackagePath!, "-PackagePath") : ResolveLocalPath(PackagePath, "-PackagePath")),
                PackageSourceKind.DistroRepository => new InstallRequest { Source = PackageSourceKind.DistroRepository },
                _ => InstallRequest.Official(Version),
            };
            if (request.Source is not PackageSourceKind.Official and not PackageSourceKind.DistroRepository)
            {
                request.Version = Version;
            }

            if (ReleaseUrl is not null)
            {
                request.BaseUrl = ReleaseUrl;
            }

            request.SignatureUrl = SignatureUrl ?? request.SignatureUrl;
            if (SignaturePath is not null)
            {
                request.SignaturePath = IsFleet ? NodePath(SignaturePath, "-SignaturePath") : ResolveLocalPath(SignaturePath, "-SignaturePath");
            }

            request.KeysUrl = KeysUrl ?? request.KeysUrl;
            request.AllowVersionChange = AllowVersionChange;
            request.SkipSignatureCheck = SkipSignatureCheck;
            foreach (var f in TrustedFingerprint ?? System.Array.Empty<string>())
            {
                request.ExtraTrustedFingerprints.Add(f);
            }

            // Validates the request before anything runs anywhere.
            _ = InstallOperations.Install(request.Source == PackageSourceKind.S3 ? WithPlaceholderUrls(request) : request);
            _request = request;
        }
        catch (S3MountException e)
        {
            Terminate(e);
        }

        if (SkipSignatureCheck)
        {
            WriteWarning("-SkipSignatureCheck: the package's signature will not be verified.");
        }
    }

    protected override void ProcessRecord()
    {
        Prepare();
        var what = "Install mount-s3 " + (Version ?? "latest") + " from " + Describe();
        if (IsTargets)
        {
            return;
        }

        if (IsFleet)
        {
            foreach (var id in CurrentInstances())
            {
                if (ShouldProcess(id, what))
                {
                    QueueFleet(id, Script(), id);
                }
            }

            return;
        }

        if (TryLocal(out var root) && ShouldProcess(root ?? "this machine", what))
        {
            _request!.Root = root;
            var block = RunLocal(Script(), null);
            try
            {
                WriteObject(MountpointInstallation.From(InstallOperations.ParseInstall(block), null, root));
            }
            catch (S3MountException e)
            {
                Fail(e, root ?? LocalHostName);
            }
        }
    }

    protected override void EndProcessing()
    {
        Prepare();
        Engine.Scripts.NodeScript? targetScript = null;
        if (IsTargets && ShouldProcess("nodes matching " + string.Join(", ", Target.Select(t => t.ToString())), "Install mount-s3 " + (Version ?? "latest") + " from " + Describe()))
        {
            targetScript = Script();
        }

        RunFleet("Install-MountpointS3", b => InstallOperations.ParseInstall(b), (id, r, _) => WriteObject(MountpointInstallation.From(r, id, null, CurrentCommandId)), targetScript);
    }

    /// <summary>The one package source the parameters name; two sources, or an option of another source, is refused.</summary>
    private PackageSourceKind Source()
    {
        var given = new List<(string Parameter, PackageSourceKind Kind)>();
        if (PackageUrl is not null) given.Add(("-PackageUrl", PackageSourceKind.Url));
        if (PackageS3Uri is not null) given.Add(("-PackageS3Uri", PackageSourceKind.S3));
        if (PackagePath is not null) given.Add(("-PackagePath", PackageSourceKind.File));
        if (DistributionRepository) given.Add(("-DistributionRepository", PackageSourceKind.DistroRepository));
        if (given.Count > 1)
        {
            throw Conflict($"{string.Join(" and ", given.Select(g => g.Parameter))} name different packages: give one source.");
        }

        var kind = given.Count == 0 ? PackageSourceKind.Official : given[0].Kind;
        var label = given.Count == 0 ? "the official release" : given[0].Parameter;
        if (SignatureUrl is not null && kind != PackageSourceKind.Url) throw Conflict($"-SignatureUrl goes with -PackageUrl, not with {label}.");
        if (SignaturePath is not null && kind != PackageSourceKind.File) throw Conflict($"-SignaturePath goes with -PackagePath, not with {label}.");
        if (ReleaseUrl is not null && kind != PackageSourceKind.Official) throw Conflict($"-ReleaseUrl is a mirror of the official release bucket; it does not go with {label}.");
        if (kind == PackageSourceKind.DistroRepository && (Version is not null || KeysUrl is not null || TrustedFingerprint is not null || SkipSignatureCheck))
        {
            throw Conflict("-DistributionRepository installs the distribution's own package with dnf: -Version, -KeysUrl, -TrustedFingerprint and -SkipSignatureCheck do not apply.");
        }

        return kind;
    }

    private static S3MountException Conflict(string message) =>
        new("S3MountParameterConflict", S3MountErrorKind.InvalidArgument, message, null);

    /// <summary>A path on a fleet node: absolute, as it is on the node (nothing is resolved on this machine).</summary>
    private static string NodePath(string path, string parameter) =>
        path.StartsWith("/", System.StringComparison.Ordinal)
            ? path
            : throw new S3MountException(Engine.Errors.ErrorIds.PathInvalid, S3MountErrorKind.InvalidArgument,
                $"{parameter} '{path}' is a path on the nodes (the package is already there): give it absolute, such as /tmp/mount-s3.deb. Paths on this machine are resolved only without -InstanceId and -Target.", path);

    private string Describe() => _request?.Source switch
    {
        PackageSourceKind.Url => PackageUrl!,
        PackageSourceKind.S3 => PackageS3Uri!,
        PackageSourceKind.File => _request.PackagePath + (IsFleet ? " on the node" : string.Empty),
        PackageSourceKind.DistroRepository => "the distribution repository",
        _ => ReleaseUrl ?? "the official release bucket",
    };

    // The script for the request; an s3:// package is presigned once, with this session's AWS credentials.
    private Engine.Scripts.NodeScript Script()
    {
        var request = _request!;
        try
        {
            if (request.Source == PackageSourceKind.S3 && !_presigned)
            {
                var aws = ResolveAws();
                request = new S3PackagePresigner(aws.Credentials, RegionEndpoint.GetBySystemName(aws.Region)).Presign(request);
                _request = request;
                _presigned = true;
            }

            return InstallOperations.Install(request);
        }
        catch (S3MountException e)
        {
            Terminate(e);
            throw;
        }
    }

    private static InstallRequest WithPlaceholderUrls(InstallRequest r)
    {
        var copy = InstallRequest.FromS3(r.S3Uri!);
        copy.PackageUrl = "https://example.invalid/package";
        copy.SignatureUrl = "https://example.invalid/package.asc";
        return copy;
    }
}
