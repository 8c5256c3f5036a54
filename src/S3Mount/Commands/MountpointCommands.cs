using System.Management.Automation;
using Amazon;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;

namespace S3Mount.Commands;

/// <summary>Reports the node (OS, architecture) and the installed mount-s3 version; changes nothing.</summary>
[Cmdlet(VerbsCommon.Get, "MountpointS3")]
[OutputType(typeof(MountpointInstallation))]
public sealed class GetMountpointS3Command : AwsCmdlet
{
    protected override void ProcessRecord()
    {
        if (IsFleet)
        {
            foreach (var id in CurrentInstances)
            {
                QueueFleet(id, InstallOperations.Report(), id);
            }

            return;
        }

        var block = RunLocal(InstallOperations.Report(), null);
        try
        {
            WriteObject(MountpointInstallation.From(InstallOperations.ParseReport(block), null));
        }
        catch (S3MountException e)
        {
            Fail(e, System.Environment.MachineName);
        }
    }

    protected override void EndProcessing() =>
        RunFleet("Get-MountpointS3", b => InstallOperations.ParseReport(b), (id, r, _) => WriteObject(MountpointInstallation.From(r, id)),
            Target is { Length: > 0 } ? InstallOperations.Report() : null);
}

/// <summary>
/// Installs Mountpoint for Amazon S3 from a signature-checked package: the official release (latest or -Version), an
/// https URL, an s3:// object (presigned here, so nodes need no S3 permission), a file on the node, or the AL2023 repository.
/// </summary>
[Cmdlet(VerbsLifecycle.Install, "MountpointS3", DefaultParameterSetName = Official, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(MountpointInstallation))]
public sealed class InstallMountpointS3Command : AwsCmdlet
{
    private const string Official = InstallSources.Official;
    private const string Url = InstallSources.Url;
    private const string S3 = InstallSources.S3;
    private const string File = InstallSources.File;
    private const string Distro = InstallSources.Distro;

    private InstallRequest? _request;

    /// <summary>The release to install, such as 1.23.0; latest when not given.</summary>
    [Parameter(Position = 0, ParameterSetName = Official)]
    [Parameter(ParameterSetName = Url)]
    [Parameter(ParameterSetName = S3)]
    [Parameter(ParameterSetName = File)]
    [ValidatePattern("^(latest|[0-9]+\\.[0-9]+(\\.[0-9]+)?)$")]
    public string? Version { get; set; }

    /// <summary>An https URL of the package; its signature is at the same URL plus .asc unless -SignatureUrl says otherwise.</summary>
    [Parameter(Mandatory = true, ParameterSetName = Url)]
    public string? PackageUrl { get; set; }

    [Parameter(ParameterSetName = Url)]
    public string? SignatureUrl { get; set; }

    /// <summary>An s3://bucket/key of the package (and key.asc); presigned here for a short time.</summary>
    [Parameter(Mandatory = true, ParameterSetName = S3)]
    public string? PackageS3Uri { get; set; }

    /// <summary>A package file already on the node (and its .asc unless -SignaturePath says otherwise).</summary>
    [Parameter(Mandatory = true, ParameterSetName = File)]
    public string? PackagePath { get; set; }

    [Parameter(ParameterSetName = File)]
    public string? SignaturePath { get; set; }

    /// <summary>Amazon Linux 2023 only: install the distribution's mount-s3 package with dnf.</summary>
    [Parameter(Mandatory = true, ParameterSetName = Distro)]
    public SwitchParameter DistributionRepository { get; set; }

    /// <summary>A mirror of the official release bucket layout (air-gapped networks).</summary>
    [Parameter(ParameterSetName = Official)]
    public string? ReleaseUrl { get; set; }

    /// <summary>Where the signing keys are read (default: the release bucket's public_keys/KEYS).</summary>
    [Parameter(ParameterSetName = Official)]
    [Parameter(ParameterSetName = Url)]
    [Parameter(ParameterSetName = S3)]
    [Parameter(ParameterSetName = File)]
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

    protected override void BeginProcessing()
    {
        try
        {
            _request = InstallSources.Request(ParameterSetName, Version, PackageUrl, SignatureUrl, PackageS3Uri, PackagePath, SignaturePath, ReleaseUrl, KeysUrl,
                AllowVersionChange, SkipSignatureCheck, TrustedFingerprint);
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
        var what = "mount-s3 " + (Version ?? "latest") + " from " + Describe();
        if (IsFleet)
        {
            foreach (var id in CurrentInstances)
            {
                if (ShouldProcess(NodeName(id), "Install " + what))
                {
                    QueueFleet(id, Script(), id);
                }
            }

            return;
        }

        if (ShouldProcess(NodeName(null), "Install " + what))
        {
            var block = RunLocal(Script(), null);
            try
            {
                WriteObject(MountpointInstallation.From(InstallOperations.ParseInstall(block), null));
            }
            catch (S3MountException e)
            {
                Fail(e, System.Environment.MachineName);
            }
        }
    }

    protected override void EndProcessing()
    {
        Engine.Scripts.NodeScript? targetScript = null;
        if (Target is { Length: > 0 } && ShouldProcess(NodeName(null), "Install mount-s3 " + (Version ?? "latest") + " from " + Describe()))
        {
            targetScript = Script();
        }

        RunFleet("Install-MountpointS3", b => InstallOperations.ParseInstall(b), (id, r, _) => WriteObject(MountpointInstallation.From(r, id)), targetScript);
    }

    private string Describe() => ParameterSetName switch
    {
        Url => PackageUrl!,
        S3 => PackageS3Uri!,
        File => PackagePath + " on the node",
        Distro => "the distribution repository",
        _ => ReleaseUrl ?? "the official release bucket",
    };

    // The script for the request; an s3:// package is presigned now, with this session's AWS credentials.
    private Engine.Scripts.NodeScript Script()
    {
        var request = _request!;
        try
        {
            if (request.Source == PackageSourceKind.S3 && request.PackageUrl is null)
            {
                var aws = ResolveAws();
                request = new S3PackagePresigner(aws.Credentials, RegionEndpoint.GetBySystemName(aws.Region)).Presign(request);
                _request = request;
            }

            return InstallOperations.Install(request);
        }
        catch (S3MountException e)
        {
            Terminate(e);
            throw;
        }
    }
}
