using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Preflight;

namespace S3Mount.Commands;

/// <summary>
/// Creates a persistent mount of an S3 bucket as a systemd service, starts it and waits for the mount; adopts a unit
/// the field recipe made for the same bucket and path; applying the same settings again changes nothing.
/// </summary>
[Cmdlet(VerbsCommon.New, "S3MountService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(S3MountService))]
public sealed class NewS3MountServiceCommand : NodeCmdlet
{
    // Parameters whose name differs from the MountOptions property (and the mount-s3 option) they set.
    private static readonly Dictionary<string, string> Renamed = new(StringComparer.Ordinal)
    {
        [nameof(MountOptions.Debug)] = nameof(DebugLogging),
    };

    private MountSpec? _spec;
    private BucketPreflight? _buckets;

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
    [Parameter]
    public string? User { get; set; }

    /// <summary>The group the service runs as (default: the user's primary group).</summary>
    [Parameter]
    public string? Group { get; set; }

    // mount-s3 options, one parameter each (the mount-s3 option is in the help of each).
    [Parameter] public string? Region { get; set; }
    [Parameter] public string? EndpointUrl { get; set; }
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
    [Parameter] public string? Profile { get; set; }
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

    /// <summary>mount-s3 options S3Mount does not model, each <c>--name</c> or <c>--name=value</c>; checked against the node's mount-s3.</summary>
    [Parameter]
    public string[]? ExtraArgument { get; set; }

    /// <summary>Environment for the service, each <c>NAME=value</c>.</summary>
    [Parameter]
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
    [Parameter] public string? Root { get; set; }

    /// <summary>The Region SSM is called in (-Region is the bucket's Region for mount-s3).</summary>
    [Parameter]
    [Alias("RegionToCall")]
    public string? SsmRegion { get; set; }

    /// <summary>An SSM endpoint URL (-EndpointUrl is the S3 endpoint for mount-s3).</summary>
    [Parameter]
    public string? SsmEndpoint { get; set; }

    /// <summary>Send the mount to the nodes without first checking, with your credentials, that the bucket exists in its region.</summary>
    [Parameter]
    public SwitchParameter SkipBucketCheck { get; set; }

    protected override string? SsmRegionValue => SsmRegion;

    protected override string? SsmEndpointValue => SsmEndpoint;

    protected override void ProcessRecord()
    {
        MountSpec spec;
        Engine.Scripts.NodeScript script;
        try
        {
            spec = BuildSpec();
            var built = spec;
            script = CachedScript(spec, () => NodeOperations.Create(new CreateRequest(built) { Force = Force, NoStart = NoStart, NoEnable = NoEnable, KeepOnFailure = KeepOnFailure, Root = Root }));
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

        RunFleet("New-S3MountService", b => NodeResultParser.Create(b), (id, r, _) => WriteCreated(r, id), targetScript, _spec);
    }

    /// <summary>
    /// The admin-side bucket check before anything is sent (once per distinct bucket): it reads the mount's own S3
    /// settings (mount-s3's region, endpoint, path style...) from the spec, so it follows whatever the parameters are named.
    /// </summary>
    protected override bool AdmitFleetWork(Engine.Ssm.ResolvedAwsSettings settings, object? context, IReadOnlyList<string> instanceIds)
    {
        if (SkipBucketCheck || context is not MountSpec spec)
        {
            return true;
        }

        _buckets ??= new BucketPreflight(settings);
        try
        {
            var result = _buckets.CheckAsync(spec, Cancellation).GetAwaiter().GetResult();
            WriteVerbose(result.Describe());
            if (result.Warning is not null && result.Checked)
            {
                WriteWarning(result.Warning);
            }

            return true;
        }
        catch (S3MountException e)
        {
            var nodes = instanceIds.Count == 0 ? "the targets" : instanceIds.Count == 1 ? instanceIds[0] : instanceIds.Count + " nodes";
            Fail(new S3MountException(e.ErrorId, e.Kind, e.Message + " Not sent to " + nodes + ".", spec.Uri, e), spec.Uri);
            return false;
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
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

    /// <summary>The spec from the bound parameters: every option goes through the same text parser that reads units back.</summary>
    internal MountSpec BuildSpec()
    {
        var options = MountOptions.Default;
        var bound = MyInvocation.BoundParameters;
        foreach (var d in OptionCatalog.All)
        {
            var param = Renamed.TryGetValue(d.Property, out var r) ? r : d.Property;
            if (!bound.TryGetValue(param, out var value) || value is null)
            {
                continue;
            }

            if (value is SwitchParameter sw)
            {
                if (sw.IsPresent)
                {
                    options = d.Set(options);
                }

                continue;
            }

            var texts = value is Array a ? a.Cast<object>().Select(Text).ToArray() : new[] { Text(value) };
            options = d.Arity == OptionArity.Repeated ? d.Set(options, texts) : d.Set(options, texts[0]);
        }

        var spec = MountSpec.Create(Bucket, Path, Prefix, options, User, Group) with
        {
            ExtraArguments = ExtraArgument ?? Array.Empty<string>(),
            Environment = Environment ?? Array.Empty<string>(),
        };
        SpecValidator.EnsureValid(spec);
        return spec;
    }

    private static string Text(object value) => value is PSObject p ? Text(p.BaseObject) : Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
}
