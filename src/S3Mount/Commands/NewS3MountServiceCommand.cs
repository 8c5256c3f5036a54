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
[Cmdlet(VerbsCommon.New, "S3MountService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountService))]
public sealed class NewS3MountServiceCommand : AwsCmdlet
{
    private MountSpec? _spec;

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
    public string? User { get; set; }

    /// <summary>The group the service runs as (default: the user's primary group).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Group { get; set; }

    /// <summary>
    /// The mount-s3 options of an existing mount (the Options property of Get-S3MountService output, which binds by
    /// property name): the base that every option parameter given here overrides, so a round trip keeps every option.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Options")]
    public MountOptions? Option { get; set; }

    // mount-s3 options, one parameter each (the mount-s3 option is in the help of each).
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? BucketRegion { get; set; }
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
    [Parameter][ValidatePattern("^0?[0-7]{3}$")] public string? DirMode { get; set; }
    [Parameter][ValidatePattern("^0?[0-7]{3}$")] public string? FileMode { get; set; }
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
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter NoStart { get; set; }

    /// <summary>Do not enable the unit (it will not mount at boot).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter NoEnable { get; set; }

    /// <summary>Replace a service with other settings, or adopt a recipe-made unit (the mount restarts); skips confirmation.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter Force { get; set; }

    /// <summary>Keep the new unit when its start fails, instead of rolling back.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)] public SwitchParameter KeepOnFailure { get; set; }

    /// <summary>An offline image root (AMI or chroot build): write the unit, the enable link and the directory into it; start nothing.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)] public string? Root { get; set; }

    protected override void ProcessRecord()
    {
        MountSpec spec;
        Engine.Scripts.NodeScript script;
        try
        {
            spec = BuildSpec();
            script = NodeOperations.Create(new CreateRequest(spec) { Force = Force, NoStart = NoStart, NoEnable = NoEnable, KeepOnFailure = KeepOnFailure, Root = Root });
        }
        catch (S3MountException e)
        {
            Terminate(e, Bucket);
            return;
        }

        _spec = spec;
        var what = $"{spec.UnitName} ({spec.Uri} at {spec.Path})";
        if (IsFleet)
        {
            if (Root is not null)
            {
                Terminate(new S3MountException("S3MountParameterConflict", S3MountErrorKind.InvalidArgument, "-Root writes into an image on this machine; it cannot be combined with -InstanceId or -Target.", "Root"));
            }

            foreach (var id in CurrentInstances)
            {
                if (ShouldProcess(what + Where(id), "Create mount service"))
                {
                    QueueFleet(id, script, spec);
                }
            }

            return;
        }

        if (!ShouldProcess(what + Where(null, Root), "Create mount service"))
        {
            return;
        }

        var block = RunLocal(script, spec.UnitName);
        try
        {
            WriteCreated(NodeResultParser.Create(block, spec.UnitName), null);
        }
        catch (S3MountException e)
        {
            Fail(e, spec.UnitName);
        }
    }

    protected override void EndProcessing()
    {
        Engine.Scripts.NodeScript? targetScript = null;
        if (Target is { Length: > 0 } && _spec is not null && ShouldProcess($"{_spec.UnitName} ({_spec.Uri} at {_spec.Path})" + Where(null), "Create mount service"))
        {
            targetScript = NodeOperations.Create(new CreateRequest(_spec) { Force = Force, NoStart = NoStart, NoEnable = NoEnable, KeepOnFailure = KeepOnFailure });
        }

        RunFleet("New-S3MountService", b => NodeResultParser.Create(b), (id, r, _) => WriteCreated(r, id), targetScript);
    }

    private void WriteCreated(CreateResult r, string? instanceId)
    {
        foreach (var w in r.Warnings)
        {
            WriteWarning((instanceId is null ? string.Empty : instanceId + ": ") + w);
        }

        var s = S3MountService.From(r.Service, instanceId);
        s.Changed = r.Changed;
        s.Adopted = r.Adopted;
        WriteObject(s);
    }

    /// <summary>
    /// The spec from this record's bound parameters, over the options of a piped mount (-Option): every field goes
    /// through <see cref="MountSpecFields"/>, the one reading of mount fields for parameters, piped objects and maps.
    /// </summary>
    internal MountSpec BuildSpec() => MountFieldParameters.Spec(MyInvocation.BoundParameters, new MountSpec());
}
