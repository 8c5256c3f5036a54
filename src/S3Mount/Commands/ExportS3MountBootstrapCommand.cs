using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Bootstrap;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Map;

namespace S3Mount.Commands;

/// <summary>
/// Turns mount specifications (New-S3MountService's parameters, or piped objects with those property names, such as
/// Get-S3MountService output) into a bootstrap that a node runs when it boots: a POSIX sh script made of the same node
/// scripts as local and SSM runs, as plain user data, #cloud-config, MIME multi-part user data, or a ParallelCluster
/// OnNodeConfigured action. Optionally installs Mountpoint first.
/// </summary>
[Cmdlet(VerbsData.Export, "S3MountBootstrap", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(string))]
public sealed class ExportS3MountBootstrapCommand : S3MountCmdlet
{
    private readonly List<MountMapEntry> _entries = new();
    private Dictionary<string, object?> _commandLine = new(StringComparer.Ordinal);
    private InstallRequest? _install;

    /// <summary>
    /// Mounts to export, read as a mount map is read from the pipeline: objects whose properties are this cmdlet's
    /// mount parameter names (Bucket, Path, Prefix, User, Group, Options, ExtraArguments, Environment, ReadOnly, ...),
    /// such as Get-S3MountService output, or hashtables with those keys. Mount parameters given on the command line
    /// override that field of every piped mount.
    /// </summary>
    [Parameter(ValueFromPipeline = true)]
    public PSObject[]? InputObject { get; set; }

    /// <summary>A mount map file (.psd1, as Sync-S3MountService reads it): its mounts are the bootstrap's.</summary>
    [Parameter]
    [Alias("MapFile")]
    public string? MapPath { get; set; }

    /// <summary>A bucket name, directory bucket, access point alias or ARN, or <c>s3://bucket/prefix/</c>.</summary>
    [Parameter(Position = 0)]
    public string? Bucket { get; set; }

    /// <summary>The directory to mount at on the node.</summary>
    [Parameter(Position = 1)]
    public string? Path { get; set; }

    [Parameter] public string? Prefix { get; set; }
    [Parameter][ArgumentCompleter(typeof(UserCompleter))] public string? User { get; set; }
    [Parameter][ArgumentCompleter(typeof(GroupCompleter))] public string? Group { get; set; }

    /// <summary>The mount-s3 options of an existing mount: the base that every option parameter given here overrides.</summary>
    [Parameter]
    [Alias("Options")]
    public MountOptions? Option { get; set; }

    // mount-s3 options, one parameter each: the same names and types as New-S3MountService's.
    [Parameter][ArgumentCompleter(typeof(RegionCompleter))] public string? BucketRegion { get; set; }
    [Parameter] public string? S3EndpointUrl { get; set; }
    [Parameter] public SwitchParameter ForcePathStyle { get; set; }
    [Parameter] public SwitchParameter TransferAcceleration { get; set; }
    [Parameter] public SwitchParameter DualStack { get; set; }
    [Parameter] public SwitchParameter RequesterPays { get; set; }
    [Parameter][ValidateSet("general-purpose", "directory")] public string? BucketType { get; set; }
    [Parameter] public string? StorageClass { get; set; }
    [Parameter] public string? ExpectedBucketOwner { get; set; }
    [Parameter][ValidateSet("aws:kms", "aws:kms:dsse", "AES256")] public string? Sse { get; set; }
    [Parameter] public string? SseKmsKeyId { get; set; }
    [Parameter][ValidateSet("crc32c", "crc64nvme", "off")] public string? UploadChecksums { get; set; }
    [Parameter] public SwitchParameter InferContentType { get; set; }
    [Parameter] public SwitchParameter NoSignRequest { get; set; }
    [Parameter] public string? S3Profile { get; set; }
    [Parameter] public string? CaBundle { get; set; }
    [Parameter] public string[]? Bind { get; set; }
    [Parameter] public string? UserAgentPrefix { get; set; }
    [Parameter] public SwitchParameter ReadOnly { get; set; }
    [Parameter] public SwitchParameter AllowDelete { get; set; }
    [Parameter] public SwitchParameter AllowOverwrite { get; set; }
    [Parameter] public SwitchParameter IncrementalUpload { get; set; }
    [Parameter] public SwitchParameter AutoUnmount { get; set; }
    [Parameter] public SwitchParameter AllowRoot { get; set; }
    [Parameter] public SwitchParameter AllowOther { get; set; }
    [Parameter] public long? Uid { get; set; }
    [Parameter] public long? Gid { get; set; }
    [Parameter][ValidatePattern("^0?[0-7]{3}$")] public string? DirMode { get; set; }
    [Parameter][ValidatePattern("^0?[0-7]{3}$")] public string? FileMode { get; set; }
    [Parameter] public int? MaximumThroughputGbps { get; set; }
    [Parameter] public int? MaxThreads { get; set; }
    [Parameter] public long? PartSize { get; set; }
    [Parameter] public long? ReadPartSize { get; set; }
    [Parameter] public long? WritePartSize { get; set; }
    [Parameter] public long? MemoryTargetMiB { get; set; }
    [Parameter] public string? LogDirectory { get; set; }
    [Parameter] public SwitchParameter LogMetrics { get; set; }
    [Parameter] public string? OtlpEndpoint { get; set; }
    [Parameter] public int? OtlpExportInterval { get; set; }
    [Parameter] public SwitchParameter DebugLogging { get; set; }
    [Parameter] public SwitchParameter DebugCrt { get; set; }
    [Parameter] public SwitchParameter NoLog { get; set; }
    [Parameter] public string? CacheDirectory { get; set; }
    [Parameter] public long? MaxCacheSizeMiB { get; set; }
    [Parameter] public string? MetadataTtl { get; set; }
    [Parameter] public string? NegativeMetadataTtl { get; set; }
    [Parameter] public string? CacheExpressBucket { get; set; }

    /// <summary>mount-s3 options S3Mount does not model, each <c>--name</c> or <c>--name=value</c>.</summary>
    [Parameter]
    [Alias("ExtraArguments")]
    public string[]? ExtraArgument { get; set; }

    /// <summary>Environment for the service, each <c>NAME=value</c> (never AWS credentials: user data is readable on the instance).</summary>
    [Parameter]
    public string[]? Environment { get; set; }

    /// <summary>Write and enable the units, but do not start them at bootstrap (they mount at the next boot).</summary>
    [Parameter] public SwitchParameter NoStart { get; set; }

    /// <summary>Do not enable the units (they will not mount at later boots).</summary>
    [Parameter] public SwitchParameter NoEnable { get; set; }

    /// <summary>On the node, replace a service with other settings or adopt a recipe-made unit for the same bucket and path.</summary>
    [Parameter] public SwitchParameter Force { get; set; }

    /// <summary>Keep a unit whose start fails at bootstrap, instead of rolling it back.</summary>
    [Parameter] public SwitchParameter KeepOnFailure { get; set; }

    /// <summary>Seconds between the health checks of each mount (0: none; default 30), as New-S3MountService takes it.</summary>
    [Parameter]
    [ValidateRange(0, Engine.Units.HealthUnits.MaximumIntervalSeconds)]
    public int? HealthCheckIntervalSeconds { get; set; }

    /// <summary>Shell (default), CloudConfig, Mime or ParallelCluster.</summary>
    [Parameter]
    public BootstrapFormat Format { get; set; } = BootstrapFormat.Shell;

    /// <summary>Gzip the artifact (cloud-init and nodeadm decompress gzip user data); the pipeline gets it in base64, -OutFile the bytes.</summary>
    [Parameter]
    public SwitchParameter Compress { get; set; }

    /// <summary>Mime: an existing user data document (text, or base64 as EC2 returns it) whose parts are kept, such as an EKS NodeConfig.</summary>
    [Parameter]
    public string? MergeWith { get; set; }

    /// <summary>
    /// Where the nodes download the script: s3://bucket/key or an https:// URL. ParallelCluster runs it from there; the
    /// Shell, CloudConfig and Mime user data become a small loader that downloads it (s3:// signed with the instance
    /// role), checks its SHA-256 and runs it, for bootstraps larger than EC2's 16 KB of user data.
    /// </summary>
    [Parameter]
    public string? ScriptUri { get; set; }

    /// <summary>Upload the script to -ScriptUri (s3://) now, with AWSSDK.S3.</summary>
    [Parameter]
    public SwitchParameter Upload { get; set; }

    /// <summary>With -ScriptUri (Shell, CloudConfig, Mime): write the script the loader downloads to this file, for your own upload.</summary>
    [Parameter]
    public string? ScriptOutFile { get; set; }

    /// <summary>Write the artifact to this file (relative to the current location) instead of the pipeline.</summary>
    [Parameter]
    public string? OutFile { get; set; }

    /// <summary>Install Mountpoint first, from the official release bucket (the latest release unless -Version).</summary>
    [Parameter]
    public SwitchParameter Install { get; set; }

    /// <summary>The Mountpoint release to install first, such as 1.23.0.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(VersionCompleter))]
    public string? Version { get; set; }

    /// <summary>Install first from a mirror of the official release bucket layout.</summary>
    [Parameter]
    public string? ReleaseUrl { get; set; }

    /// <summary>Install first from this https URL (signature at the URL plus .asc).</summary>
    [Parameter]
    public string? PackageUrl { get; set; }

    [Parameter]
    public string? SignatureUrl { get; set; }

    /// <summary>Install first from this s3://bucket/key, presigned now for -PresignedUrlLifetime.</summary>
    [Parameter]
    public string? PackageS3Uri { get; set; }

    /// <summary>How long the presigned URLs of -PackageS3Uri work (at most 7 days): nodes that boot later cannot install.</summary>
    [Parameter]
    public TimeSpan? PresignedUrlLifetime { get; set; }

    /// <summary>Install first from a package file already on the node (an image's, or one the user data put there).</summary>
    [Parameter]
    public string? PackagePath { get; set; }

    [Parameter]
    public string? SignaturePath { get; set; }

    /// <summary>Install first from the Amazon Linux 2023 repository.</summary>
    [Parameter]
    public SwitchParameter DistributionRepository { get; set; }

    [Parameter]
    public string? KeysUrl { get; set; }

    [Parameter]
    public SwitchParameter AllowVersionChange { get; set; }

    [Parameter]
    public SwitchParameter SkipSignatureCheck { get; set; }

    [Parameter]
    public string[]? TrustedFingerprint { get; set; }

    /// <summary>The Region of the S3 calls (presign, upload); AWS.Tools meaning, $StoredAWSRegion when not given.</summary>
    [Parameter]
    [Alias("RegionToCall")]
    public string? Region { get; set; }

    /// <summary>An S3 endpoint URL for the presign and the upload (VPC endpoints, tests).</summary>
    [Parameter]
    public string? EndpointUrl { get; set; }

    [Parameter]
    [Alias("Profile", "StoredCredentials", "AWSProfileName")]
    public string? ProfileName { get; set; }

    [Parameter]
    [Alias("AWSProfilesLocation", "ProfilesLocation")]
    public string? ProfileLocation { get; set; }

    [Parameter]
    public object? Credential { get; set; }

    [Parameter]
    [Alias("AK")]
    public string? AccessKey { get; set; }

    [Parameter]
    [Alias("SK", "SecretAccessKey")]
    public string? SecretKey { get; set; }

    [Parameter]
    [Alias("ST")]
    public string? SessionToken { get; set; }

    protected override void BeginProcessing()
    {
        // Captured before any piped object is bound: the mount fields the command line gives, as plain values.
        _commandLine = MyInvocation.BoundParameters
            .Where(kv => MountSpecFields.Canonical(kv.Key) is not null)
            .ToDictionary(kv => MountSpecFields.Canonical(kv.Key)!, kv => MountInput.Plain(kv.Value), StringComparer.Ordinal);
        try
        {
            CheckParameters();

            // Any install parameter makes an install step, with Install-MountpointS3's sources and refusals.
            var choices = new InstallChoices
            {
                Version = Version, PackageUrl = PackageUrl, SignatureUrl = SignatureUrl, PackageS3Uri = PackageS3Uri, PackagePath = PackagePath, SignaturePath = SignaturePath,
                DistributionRepository = DistributionRepository, ReleaseUrl = ReleaseUrl, KeysUrl = KeysUrl, AllowVersionChange = AllowVersionChange,
                SkipSignatureCheck = SkipSignatureCheck, TrustedFingerprint = TrustedFingerprint,
            };
            if (Install || Version is not null || PackageUrl is not null || SignatureUrl is not null || PackageS3Uri is not null || PackagePath is not null || SignaturePath is not null
                || DistributionRepository || ReleaseUrl is not null || KeysUrl is not null || AllowVersionChange || SkipSignatureCheck || TrustedFingerprint is not null)
            {
                // The bootstrap runs on the node: a package path is the node's.
                _install = InstallSources.Request(choices, (path, parameter) => InstallSources.NodePath(path, parameter, "The bootstrap reads it on the node when it boots."));
            }

            if ((PackageS3Uri is null) != (PresignedUrlLifetime is null))
            {
                throw InstallSources.Conflict(PackageS3Uri is null
                    ? "-PresignedUrlLifetime is how long the presigned URLs of -PackageS3Uri work: it goes with -PackageS3Uri only."
                    : "A bootstrap may run days after it is made: say how long the presigned URLs of -PackageS3Uri must work with -PresignedUrlLifetime (at most 7 days), or install from -ReleaseUrl or -PackageUrl, which do not expire.");
            }
        }
        catch (S3MountException e)
        {
            Terminate(e);
        }

        if (_install is not null && SkipSignatureCheck)
        {
            WriteWarning("-SkipSignatureCheck: the install step will not verify the package's signature on the nodes.");
        }
    }

    protected override void ProcessRecord()
    {
        if (InputObject is null)
        {
            return;
        }

        foreach (var input in InputObject)
        {
            var entry = MountMapReader.FromObject(input, _entries.Count);

            // The command line overrides the fields it gives (and, with -Option, the base options) of every piped mount.
            var fields = entry.Fields.Where(f => !_commandLine.ContainsKey(MountSpecFields.Canonical(MountInput.FieldName(f.Key)) ?? f.Key)).Concat(_commandLine);
            _entries.Add(new MountMapEntry(entry.Source, fields, Option is null ? entry.Base : new MountSpec { Options = Option }));
        }
    }

    protected override void EndProcessing()
    {
        var map = ReadMap();
        var request = new BootstrapRequest { Install = _install };
        foreach (var spec in map.Mounts)
        {
            request.Mounts.Add(new CreateRequest(spec) { Force = Force, NoStart = NoStart, NoEnable = NoEnable, KeepOnFailure = KeepOnFailure });
        }

        // No bucket check here: an export calls AWS only when asked to (presign, upload), so it works where S3 cannot be
        // reached or no credentials are set (New-S3MountService checks buckets before it sends mounts to nodes).
        BootstrapArtifact artifact;
        try
        {
            // Presigning is local (nothing is sent); the mounts are valid already (ReadMap), and nothing is written before
            // the whole artifact is built.
            if (_install?.Source == PackageSourceKind.S3)
            {
                request = Presigned(request);
            }

            var script = BootstrapScript.Compose(request);
            var loader = ScriptUri is not null && Format != BootstrapFormat.ParallelCluster;

            // The nodes sign their download of an s3:// script for its bucket's Region: -Region, or the session's.
            // With -Upload it is the Region the script is uploaded to, resolved (credentials too) before anything is
            // written; under -WhatIf, -Region or $StoredAWSRegion name it as the upload would, without credentials.
            // Without -Upload, no credentials are needed to name it.
            var stored = Shape.Unwrap(SessionState.PSVariable.GetValue("StoredAWSRegion"))?.ToString();
            var named = new[] { Region, stored }.FirstOrDefault(r => !string.IsNullOrEmpty(r));
            var region = !loader || !ScriptUri!.StartsWith("s3://", StringComparison.Ordinal) ? null
                : Upload ? (IsWhatIf && named is not null ? named : ResolveAws(AccessKey, SecretKey, SessionToken, ProfileName, ProfileLocation, Credential, Region, EndpointUrl).Region)
                : new[] { named, System.Environment.GetEnvironmentVariable("AWS_REGION"), System.Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") }
                    .FirstOrDefault(r => !string.IsNullOrEmpty(r));
            artifact = BootstrapArtifact.Build(script, Format, Compress, MergeWith, ScriptUri, region, loader ? EndpointUrl : null);
        }
        catch (S3MountException e)
        {
            Terminate(e);
            return;
        }

        var what = $"{Format}{(artifact.Compressed ? " (gzip)" : string.Empty)} bootstrap, {artifact.Script.Mounts.Count} mount(s)" +
            (_install is null ? string.Empty : " and an install step") + $", {artifact.Bytes.Length:N0} bytes";
        WriteVerbose("S3Mount: " + what + ", SHA-256 " + artifact.Sha256 + ":\n  " + string.Join("\n  ", artifact.Script.Description));
        if (artifact.Format == BootstrapFormat.Shell && !artifact.Compressed && artifact.Bytes.Length > BootstrapArtifact.UserDataLimit)
        {
            WriteWarning($"The script is {artifact.Bytes.Length:N0} bytes, more than EC2 takes as user data ({BootstrapArtifact.UserDataLimit:N0}): for user data, export it with -Compress (cloud-init decompresses gzip). As a ParallelCluster action or an image's first-boot script it runs as it is.");
        }

        if (Format == BootstrapFormat.ParallelCluster)
        {
            WriteParallelCluster(artifact, what);
            return;
        }

        if (artifact.Loader is not null)
        {
            // The script first: user data whose script is not where it points would fail on every node that boots.
            // Both files are checked before either is written or the script uploaded: a user data file that cannot be
            // written must not leave a script file or an uploaded object behind.
            if (!IsWhatIf)
            {
                foreach (var (parameter, target) in new[] { ("-ScriptOutFile", ScriptOutFile), ("-OutFile", OutFile) })
                {
                    if (target is not null)
                    {
                        CheckDirectory(parameter, target, ResolveFile(parameter, target));
                    }
                }
            }

            var script = $"bootstrap script ({artifact.ScriptBytes.Length:N0} bytes) that the {Format} loader downloads";
            if (ScriptOutFile is not null)
            {
                WriteFile("-ScriptOutFile", ScriptOutFile, artifact.ScriptBytes, script);
            }

            if (Upload)
            {
                UploadScript(artifact.ScriptBytes, script);
            }

            WriteVerbose("S3Mount: the nodes download the script from " + artifact.Loader.Url + (artifact.Loader.Region is null ? string.Empty : ", signed for " + artifact.Loader.Region));
        }

        if (OutFile is not null)
        {
            WriteFile("-OutFile", OutFile, artifact.Bytes, what);
            return;
        }

        WriteObject(artifact.Compressed ? Convert.ToBase64String(artifact.Bytes) : artifact.Text);
    }

    // Format-specific parameters are refused with the others, before any pipeline input is read.
    private void CheckParameters()
    {
        static S3MountException Conflict(string message) => InstallSources.Conflict(message);
        if (MergeWith is not null && Format != BootstrapFormat.Mime)
        {
            throw Conflict("-MergeWith keeps the parts of an existing user data document: it goes with -Format Mime only.");
        }

        if (ScriptUri is null && (Upload || ScriptOutFile is not null))
        {
            throw Conflict($"-{(Upload ? "Upload" : "ScriptOutFile")} places the script the nodes download: it goes with -ScriptUri.");
        }

        if (ScriptUri is not null && Format != BootstrapFormat.ParallelCluster)
        {
            if (Upload && !ScriptUri.StartsWith("s3://", StringComparison.Ordinal))
            {
                throw Conflict("-Upload puts the script into S3: give -ScriptUri s3://bucket/key.");
            }

            if (ScriptOutFile is not null && OutFile is not null && SamePath(ScriptOutFile, OutFile))
            {
                throw Conflict("-ScriptOutFile is the script and -OutFile the user data that downloads it: give them different files.");
            }

            if (!Upload && ScriptOutFile is null)
            {
                throw Conflict("With -ScriptUri the user data is a loader that downloads the script from there: add -Upload to upload it now (s3://), or -ScriptOutFile to write it for your own upload.");
            }
        }

        if (Format == BootstrapFormat.ParallelCluster)
        {
            if (ScriptOutFile is not null)
            {
                throw Conflict("-Format ParallelCluster writes its script with -OutFile: -ScriptOutFile goes with the Shell, CloudConfig and Mime loaders.");
            }

            if (Compress)
            {
                throw Conflict("ParallelCluster runs the script it downloads as it is: -Compress does not go with -Format ParallelCluster.");
            }

            var (scheme, _, _) = BootstrapArtifact.ParseScriptUri(ScriptUri);
            if (Upload && scheme != "s3")
            {
                throw Conflict("-Upload puts the script into S3: give -ScriptUri s3://bucket/key.");
            }

            if (!Upload && OutFile is null)
            {
                throw Conflict("The ParallelCluster format puts the script at -ScriptUri: add -Upload to upload it there now, or -OutFile to write it for your own upload (the configuration keys go to the pipeline either way).");
            }
        }
    }

    // Two file parameters that name one file; paths that do not resolve are reported when they are written.
    private bool SamePath(string a, string b)
    {
        try
        {
            return string.Equals(SessionState.Path.GetUnresolvedProviderPathFromPSPath(a), SessionState.Path.GetUnresolvedProviderPathFromPSPath(b), StringComparison.Ordinal);
        }
        catch (Exception e) when (e is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or PSArgumentException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>
    /// The mounts, validated as a whole as Sync-S3MountService validates a map (every problem listed, with where it
    /// is; two mounts of one path or one inside another refused): from -MapPath, the pipeline, or the command line.
    /// </summary>
    private MountMap ReadMap()
    {
        try
        {
            if (MapPath is not null)
            {
                if (_entries.Count > 0 || _commandLine.Count > 0 || Option is not null)
                {
                    throw InstallSources.Conflict("Give the mounts either as a map file (-MapPath), or as piped objects or mount parameters, not both.");
                }

                var file = SessionState.Path.GetUnresolvedProviderPathFromPSPath(MapPath);
                if (!System.IO.File.Exists(file))
                {
                    throw new S3MountException(ErrorIds.MapNotFound, S3MountErrorKind.ObjectNotFound, $"The mount map file {file} does not exist.", MapPath);
                }

                return MountMapReader.ReadFile(file);
            }

            if (_entries.Count > 0)
            {
                return MountMap.Build(_entries, source: "from the pipeline");
            }

            return _commandLine.Count > 0 || Option is not null
                ? MountMap.Build(new[] { new MountMapEntry(MountMapEntry.CommandLine, _commandLine, Option is null ? null : new MountSpec { Options = Option }) }, source: "from the command line")
                : MountMap.FromSpecs(Array.Empty<MountSpec>());
        }
        catch (S3MountException e)
        {
            Terminate(e, MapPath);
            throw;
        }
    }

    // The request with the s3:// package presigned now, with this session's AWS credentials.
    private BootstrapRequest Presigned(BootstrapRequest request)
    {
        var aws = ResolveAws(AccessKey, SecretKey, SessionToken, ProfileName, ProfileLocation, Credential, Region, null);
        var presigner = new S3PackagePresigner(aws.Credentials, Amazon.RegionEndpoint.GetBySystemName(aws.Region), EndpointUrl);
        var install = presigner.Presign(_install!, PresignedUrlLifetime!.Value);
        var until = DateTime.UtcNow.Add(PresignedUrlLifetime.Value);
        WriteWarning($"The bootstrap carries presigned URLs of {PackageS3Uri}{(install.SignatureUrl is null ? string.Empty : " and its signature")}: anyone who holds it can download them until {until:yyyy-MM-dd HH:mm} UTC, and nodes that boot after that cannot install from them." +
            (aws.Credentials.GetCredentials().UseToken ? " They are signed with temporary credentials, so they stop working when that session ends, which may be sooner." : string.Empty));
        var presigned = new BootstrapRequest { Install = install, PresignedUntilUtc = until };
        foreach (var m in request.Mounts)
        {
            presigned.Mounts.Add(m);
        }

        return presigned;
    }

    private void WriteParallelCluster(BootstrapArtifact artifact, string what)
    {
        if (OutFile is not null)
        {
            WriteFile("-OutFile", OutFile, artifact.Bytes, what);
        }

        if (Upload)
        {
            UploadScript(artifact.Bytes, what);
        }

        WriteObject(artifact.Configuration);
    }

    // The script to -ScriptUri (s3://), with the session's credentials (unless -WhatIf or -Confirm says no).
    private void UploadScript(byte[] bytes, string what)
    {
        if (!ShouldProcess(ScriptUri, "Upload " + what))
        {
            return;
        }

        var aws = ResolveAws(AccessKey, SecretKey, SessionToken, ProfileName, ProfileLocation, Credential, Region, EndpointUrl);
        try
        {
            BootstrapUpload.PutAsync(aws, ScriptUri!, bytes, Cancellation).GetAwaiter().GetResult();
            WriteVerbose("S3Mount: uploaded " + ScriptUri);
        }
        catch (S3MountException e)
        {
            Terminate(e, ScriptUri);
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
    }

    // -OutFile and -ScriptOutFile resolve like New-Item's paths (relative to the current location, ~, PowerShell
    // drives); the file is written whole through a temporary file beside it, or not at all.
    private void WriteFile(string parameter, string target, byte[] bytes, string what)
    {
        var path = ResolveFile(parameter, target);
        if (!ShouldProcess(path, "Write " + what))
        {
            return;
        }

        CheckDirectory(parameter, target, path);
        var temp = path + ".s3mount-" + Guid.NewGuid().ToString("N").Substring(0, 8);
        try
        {
            System.IO.File.WriteAllBytes(temp, bytes);
            if (System.IO.File.Exists(path))
            {
                System.IO.File.Replace(temp, path, null);
            }
            else
            {
                System.IO.File.Move(temp, path);
            }

            WriteVerbose("S3Mount: wrote " + path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                System.IO.File.Delete(temp);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                WriteVerbose("S3Mount: could not remove " + temp + ": " + cleanup.Message);
            }

            Terminate(new S3MountException(BootstrapErrorIds.WriteFailed, S3MountErrorKind.WriteError, $"Could not write {path}: {e.Message}", path, e));
        }
    }

    // The file system path of -OutFile or -ScriptOutFile (ends the command when it has none).
    private string ResolveFile(string parameter, string target)
    {
        try
        {
            var path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(target, out var provider, out _);
            if (provider.Name != "FileSystem")
            {
                throw new S3MountException(BootstrapErrorIds.WriteFailed, S3MountErrorKind.InvalidArgument, $"{parameter} '{target}' is not a file system path (it is on the {provider.Name} provider).", target);
            }

            return path;
        }
        catch (Exception e) when (e is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or PSArgumentException or NotSupportedException)
        {
            Terminate(new S3MountException(BootstrapErrorIds.WriteFailed, S3MountErrorKind.InvalidArgument, $"{parameter} '{target}' cannot be resolved: {e.Message}", target, e));
            throw;
        }
        catch (S3MountException e)
        {
            Terminate(e);
            throw;
        }
    }

    // The file's directory must exist (as for New-Item, it is not created).
    private void CheckDirectory(string parameter, string target, string path)
    {
        var directory = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
        {
            Terminate(new S3MountException(BootstrapErrorIds.WriteFailed, S3MountErrorKind.WriteError, $"Could not write {path} ({parameter} '{target}'): the directory {directory} does not exist.", path));
        }
    }
}
