using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;

namespace S3Mount.Commands;

/// <summary>
/// Creates a persistent mount of an S3 bucket as a systemd service, starts it and waits for the mount; adopts a unit
/// the field recipe made for the same bucket and path; applying the same settings again changes nothing.
/// </summary>
[Cmdlet(VerbsCommon.New, "S3MountService", DefaultParameterSetName = LocalSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountService))]
public sealed class NewS3MountServiceCommand : NodeCmdlet
{
    private readonly List<MountSpec> _targetSpecs = new();

    /// <summary>A bucket name, directory bucket, access point alias or ARN, or <c>s3://bucket/prefix/</c>.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Bucket { get; set; } = string.Empty;

    /// <summary>The directory to mount at (absolute; created with the service user's ownership and mode 0755).</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    /// <summary>Mount only keys under this prefix (ends with <c>/</c>).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Prefix { get; set; }

    /// <summary>The user the service runs as (default root).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(UserCompleter))]
    public string? User { get; set; }

    /// <summary>The group the service runs as (default: the user's primary group).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(GroupCompleter))]
    public string? Group { get; set; }

    /// <summary>
    /// The mount-s3 options of an existing mount (the Options property of Get-S3MountService output, which binds by
    /// property name): the base that every option parameter given here overrides, so a round trip keeps every option.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Options")]
    public MountOptions? Option { get; set; }

    // mount-s3 options, one parameter each (the mount-s3 option is in the help of each).
    [Parameter(ValueFromPipelineByPropertyName = true)][ArgumentCompleter(typeof(RegionCompleter))] public string? BucketRegion { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? S3EndpointUrl { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter ForcePathStyle { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter TransferAcceleration { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter DualStack { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter RequesterPays { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)][ValidateSet("general-purpose", "directory")] public string? BucketType { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? StorageClass { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? ExpectedBucketOwner { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)][ValidateSet("aws:kms", "aws:kms:dsse", "AES256")] public string? Sse { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? SseKmsKeyId { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)][ValidateSet("crc32c", "crc64nvme", "off")] public string? UploadChecksums { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter InferContentType { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter NoSignRequest { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? S3Profile { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? CaBundle { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string[]? Bind { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? UserAgentPrefix { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter ReadOnly { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter AllowDelete { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter AllowOverwrite { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter IncrementalUpload { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter AutoUnmount { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter AllowRoot { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter AllowOther { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public long? Uid { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public long? Gid { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? DirMode { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? FileMode { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public int? MaximumThroughputGbps { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public int? MaxThreads { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public long? PartSize { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public long? ReadPartSize { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public long? WritePartSize { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public long? MemoryTargetMiB { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? LogDirectory { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter LogMetrics { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? OtlpEndpoint { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public int? OtlpExportInterval { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter DebugLogging { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter DebugCrt { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter NoLog { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? CacheDirectory { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public long? MaxCacheSizeMiB { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? MetadataTtl { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? NegativeMetadataTtl { get; set; }
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? CacheExpressBucket { get; set; }

    /// <summary>mount-s3 options S3Mount does not model, each <c>--name</c> or <c>--name=value</c>; checked against the node's mount-s3.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("ExtraArguments")]
    public string[]? ExtraArgument { get; set; }

    /// <summary>Environment for the service, each <c>NAME=value</c>.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string[]? Environment { get; set; }

    /// <summary>Write and enable the unit, but do not start it.</summary>
    [Parameter] public SwitchParameter NoStart { get; set; }

    /// <summary>Do not enable the unit (it will not mount at boot).</summary>
    [Parameter] public SwitchParameter NoEnable { get; set; }

    /// <summary>Replace a service with other settings, or adopt a recipe-made unit (the mount restarts); skips confirmation.</summary>
    [Parameter] public SwitchParameter Force { get; set; }

    /// <summary>Keep the new unit when its start fails, instead of rolling back.</summary>
    [Parameter] public SwitchParameter KeepOnFailure { get; set; }

    /// <summary>An offline image root (AMI or chroot build): write the unit, the enable link and the directory into it; start nothing.</summary>
    [Parameter(Mandatory = true, ParameterSetName = RootSet, ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyString]
    public override string? Root { get => base.Root; set => base.Root = value; }

    protected override void ProcessRecord()
    {
        // A bad record (parameters or a piped object) is an error for that record only; the others go on.
        MountSpec spec;
        try
        {
            spec = BuildSpec();
        }
        catch (S3MountException e)
        {
            Fail(e, string.IsNullOrEmpty(Bucket) ? e.Target : Bucket);
            return;
        }

        var what = $"{spec.UnitName} ({spec.Uri} at {spec.Path})";
        if (IsTargets)
        {
            _targetSpecs.Add(spec);
            return;
        }

        if (IsFleet)
        {
            var ids = CurrentInstances();
            if (ids.Count == 0 || !TryScript(spec, null, out var fleetScript))
            {
                return;
            }

            foreach (var id in ids)
            {
                if (ShouldProcess(what + Where(id), "Create mount service"))
                {
                    QueueFleet(id, fleetScript, spec);
                }
            }

            return;
        }

        if (!TryLocal(out var root) || !TryScript(spec, root, out var script) || !ShouldProcess(what + Where(null, root), "Create mount service"))
        {
            return;
        }

        var block = RunLocal(script, spec.UnitName);
        try
        {
            WriteCreated(NodeResultParser.Create(block, spec.UnitName), null, root);
        }
        catch (S3MountException e)
        {
            Fail(e, spec.UnitName);
        }
    }

    protected override void EndProcessing()
    {
        RunFleet("New-S3MountService", b => NodeResultParser.Create(b), (id, r, _) => WriteCreated(r, id, null));
        foreach (var spec in _targetSpecs)
        {
            if (ShouldProcess($"{spec.UnitName} ({spec.Uri} at {spec.Path})" + Where(null), "Create mount service") && TryScript(spec, null, out var script))
            {
                RunFleet("New-S3MountService", b => NodeResultParser.Create(b), (id, r, _) => WriteCreated(r, id, null), script);
            }
        }
    }

    private bool TryScript(MountSpec spec, string? root, out Engine.Scripts.NodeScript script)
    {
        try
        {
            script = NodeOperations.Create(new CreateRequest(spec) { Force = Force, NoStart = NoStart, NoEnable = NoEnable, KeepOnFailure = KeepOnFailure, Root = root });
            return true;
        }
        catch (S3MountException e)
        {
            Fail(e, spec.UnitName);
            script = null!;
            return false;
        }
    }

    private void WriteCreated(CreateResult r, string? instanceId, string? root)
    {
        var s = S3MountService.From(r.Service, instanceId, root, CurrentCommandId);
        s.Changed = r.Changed;
        s.Adopted = r.Adopted;
        s.Warnings = s.Warnings.Concat(r.Warnings).Distinct(StringComparer.Ordinal).ToArray();
        foreach (var w in s.Warnings)
        {
            WriteWarning((instanceId is null ? string.Empty : instanceId + ": ") + w);
        }

        WriteObject(s);
    }

    /// <summary>
    /// The spec of this record: the piped object's fields (its Options the base), then every field the command line
    /// gives, through <see cref="MountInput"/>, the one reading of mount fields for parameters, piped objects and maps.
    /// </summary>
    internal MountSpec BuildSpec() => MountInput.Build(InputObject, CommandLineValues(), OnCommandLine(nameof(Option)) ? Option : null);
}
