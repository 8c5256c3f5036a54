using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;

namespace S3Mount.Commands;

/// <summary>
/// Base of every cmdlet that acts on nodes, in one of four modes, which are its parameter sets: this machine (Local,
/// the default), an offline image (Root: cmdlets that support it override <see cref="Root"/> with its parameter
/// attributes), EC2 instances through SSM Run Command (InstanceId, which binds by property name, so EC2, SSM and
/// S3Mount objects pipe in) or SSM targets (Target). The SSM parameters exist only in the two fleet modes. Pipeline
/// input is collected; fleet work is sent as batched commands (one per distinct script, at most 50 instances each) and
/// results stream back as nodes finish, drained on the pipeline thread.
/// </summary>
public abstract class NodeCmdlet : S3MountCmdlet
{
    public const string LocalSet = "Local";
    public const string RootSet = "Root";
    public const string InstanceSet = "InstanceId";
    public const string TargetSet = "Target";

    private static readonly Regex InstanceIdForm = new("^(i-([0-9a-f]{8}|[0-9a-f]{17})|mi-[0-9a-f]{17})$", RegexOptions.CultureInvariant);

    private readonly List<(string InstanceId, NodeScript Script, object Context)> _fleetWork = new();

    /// <summary>
    /// EC2 instance ids (or EC2 Instance, Reservation, SSM InstanceInformation and S3Mount objects, by property name).
    /// Mandatory in its set: that is what makes PowerShell choose this set for piped fleet objects when the command
    /// line gives SSM parameters (-Region, ...); optional, such a pipeline resolved to the Target set. AllowNull: a
    /// local object's null InstanceId binds without failing the record, and NodeCmdlet decides where it acts.
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = InstanceSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Instance", "Instances")]
    [InstanceIdTransformation]
    [AllowNull]
    [AllowEmptyCollection]
    public string[]? InstanceId { get; set; }

    /// <summary>SSM targets: <c>tag:Role=hpc-compute</c>, <c>@{Key='tag:Role';Values='hpc-compute'}</c>, SSM Target objects (at most 5).</summary>
    [Parameter(Mandatory = true, ParameterSetName = TargetSet)]
    [TargetTransformation]
    [ValidateCount(1, 5)]
    public SsmTarget[] Target { get; set; } = Array.Empty<SsmTarget>();

    /// <summary>
    /// An offline image root (a local path, resolved like New-Item resolves paths). Not a parameter here: cmdlets that
    /// can work in an image override it with the Root parameter set's attributes.
    /// </summary>
    public virtual string? Root { get; set; }

    /// <summary>
    /// The piped object itself. An object acts where it came from: one with an InstanceId (S3Mount's fleet output, EC2
    /// and SSM instance objects, an EC2 Reservation) goes to that instance through SSM, one with a Root (listed from an
    /// image) to that image, anything else to this machine; -InstanceId, -Target or -Root on the command line decide
    /// instead. (PowerShell settles the parameter set before the first piped object arrives, so the object's own
    /// location is read here.)
    /// </summary>
    [Parameter(ValueFromPipeline = true)]
    public PSObject? InputObject { get; set; }

    /// <summary>How many nodes run the command at once: <c>N</c> or <c>N%</c>.</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    [ArgumentCompleter(typeof(CountOrPercentCompleter))]
    public string? MaxConcurrency { get; set; }

    /// <summary>How many node errors are tolerated before no new nodes start: <c>N</c> or <c>N%</c>.</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    [Alias("MaxError")]
    [ArgumentCompleter(typeof(CountOrPercentCompleter))]
    public string? MaxErrors { get; set; }

    /// <summary>How long a node may take to receive the command (SSM TimeoutSeconds, 30 to 2592000).</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    [ValidateRange(30, 2592000)]
    [Alias("TimeoutSecond")]
    public int? TimeoutSeconds { get; set; }

    /// <summary>How long the script may run on each node (1 to 172800; default 3600).</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    [ValidateRange(1, 172800)]
    public int? ExecutionTimeoutSeconds { get; set; }

    /// <summary>An S3 bucket for the full command output, read back when SSM cuts a node's output short.</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    public string? OutputS3BucketName { get; set; }

    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    public string? OutputS3KeyPrefix { get; set; }

    /// <summary>The Region of -OutputS3BucketName, when it is not the Region SSM is called in.</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    [ArgumentCompleter(typeof(RegionCompleter))]
    public string? OutputS3Region { get; set; }

    /// <summary>A CloudWatch Logs group SSM sends the command output to.</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    public string? CloudWatchLogGroupName { get; set; }

    /// <summary>The SSM command's comment (at most 100 characters; default "S3Mount &lt;operation&gt;").</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    public string? Comment { get; set; }

    /// <summary>The Region SSM is called in (AWS.Tools: -Region; $StoredAWSRegion when not given).</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    [Alias("RegionToCall")]
    [ArgumentCompleter(typeof(RegionCompleter))]
    public string? Region { get; set; }

    /// <summary>An SSM endpoint URL (VPC endpoints, tests).</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    public string? EndpointUrl { get; set; }

    /// <summary>An AWS credentials profile (AWS.Tools: -ProfileName).</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    [Alias("Profile", "StoredCredentials", "AWSProfileName")]
    public string? ProfileName { get; set; }

    /// <summary>The credentials file the profile is read from.</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    [Alias("AWSProfilesLocation", "ProfilesLocation")]
    public string? ProfileLocation { get; set; }

    /// <summary>An AWSCredentials object (from AWS.Tools) to call SSM with.</summary>
    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    public object? Credential { get; set; }

    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    [Alias("AK")]
    public string? AccessKey { get; set; }

    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    [Alias("SK", "SecretAccessKey")]
    public string? SecretKey { get; set; }

    [Parameter(ParameterSetName = InstanceSet)]
    [Parameter(ParameterSetName = TargetSet)]
    [Alias("ST")]
    public string? SessionToken { get; set; }

    // What the command line named, captured before any piped object is bound. PowerShell settles the parameter set
    // before the first piped object arrives, and a local object binds a null InstanceId or Root into another set, so
    // where a record acts is decided here: the command line's place first, else the piped object's own.
    private HashSet<string>? _commandLine;

    protected override void BeginProcessing()
    {
        _commandLine = new HashSet<string>(MyInvocation.BoundParameters.Keys, StringComparer.OrdinalIgnoreCase);
        base.BeginProcessing();
    }

    /// <summary>True when <paramref name="parameter"/> was given on the command line (not bound from a piped object).</summary>
    protected bool OnCommandLine(string parameter) => (_commandLine ??= new HashSet<string>(MyInvocation.BoundParameters.Keys, StringComparer.OrdinalIgnoreCase)).Contains(parameter);

    /// <summary>
    /// The parameters given on the command line, with their values. Values PowerShell bound from a piped object are
    /// not here: read the object (<see cref="InputObject"/>) instead, because BoundParameters keeps a value bound
    /// from one piped object for the next.
    /// </summary>
    protected IEnumerable<KeyValuePair<string, object?>> CommandLineValues() =>
        MyInvocation.BoundParameters.Where(kv => OnCommandLine(kv.Key)).Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value));

    // The parameters that exist only in the fleet sets (-Region, -ProfileName, -MaxErrors, ...).
    private static readonly HashSet<string> FleetOnly = new(
        typeof(NodeCmdlet).GetProperties()
            .Where(p => p.GetCustomAttributes(typeof(ParameterAttribute), true).Cast<ParameterAttribute>().ToList() is { Count: > 0 } a
                && a.All(x => x.ParameterSetName is InstanceSet or TargetSet))
            .Select(p => p.Name),
        StringComparer.OrdinalIgnoreCase);

    /// <summary>True when the command line gave SSM parameters but no place: the piped objects must name instances.</summary>
    private bool FleetIntended => (_commandLine ?? new HashSet<string>()).Overlaps(FleetOnly);

    /// <summary>True when this record targets a fleet: -InstanceId or -Target, or a piped object of a fleet node.</summary>
    protected bool IsFleet => IsTargets || OnCommandLine(nameof(InstanceId)) || (!OnCommandLine(nameof(Root)) && (PipedInstances().Count > 0 || FleetIntended));

    /// <summary>True for -Target: one run over the targets, sent in EndProcessing.</summary>
    protected bool IsTargets => OnCommandLine(nameof(Target));

    // The instance ids a piped object names.
    private IReadOnlyList<string> PipedInstances() =>
        InputObject is null || InputObject.BaseObject is string ? Array.Empty<string>() : InstanceIdTransformationAttribute.IdsOf(InputObject).ToList();

    // The image a piped object was listed from.
    private string? PipedRoot() =>
        InputObject is null || InputObject.BaseObject is string ? null : Shape.Property(InputObject, "Root") as string is { Length: > 0 } r ? r : null;

    /// <summary>
    /// The instance ids of this record, distinct; an id that is not an EC2 (i-...) or managed-instance (mi-...) id is
    /// a non-terminating S3MountInstanceIdInvalid error for that id only, and nothing is sent to it.
    /// </summary>
    protected IReadOnlyList<string> CurrentInstances()
    {
        var ids = new List<string>();
        IReadOnlyList<string> named = OnCommandLine(nameof(InstanceId)) ? InstanceId ?? Array.Empty<string>() : PipedInstances();
        if (named.Count == 0)
        {
            Fail(new S3MountException("S3MountInstanceIdMissing", S3MountErrorKind.InvalidArgument,
                "No instance to act on: give -InstanceId (or -Target), or pipe objects that carry an InstanceId (S3Mount's fleet output, EC2 or SSM instance objects). The SSM parameters (-Region, -ProfileName, ...) only apply to a fleet.",
                InputObject?.BaseObject), InputObject?.BaseObject);
        }

        foreach (var id in named.Where(i => !string.IsNullOrEmpty(i)).Distinct(StringComparer.Ordinal))
        {
            if (InstanceIdForm.IsMatch(id))
            {
                ids.Add(id);
                continue;
            }

            Fail(new S3MountException("S3MountInstanceIdInvalid", S3MountErrorKind.InvalidArgument,
                $"'{id}' is not an instance id: EC2 instances are i- and 8 or 17 hex digits (i-0123456789abcdef0), managed instances mi- and 17.", id), id);
        }

        return ids;
    }

    /// <summary>
    /// Where this record acts when it is not a fleet: the resolved image root (Root mode) or null (this machine).
    /// False, with a non-terminating error for this record, when the root does not exist.
    /// </summary>
    protected bool TryLocal(out string? root)
    {
        root = null;
        var named = OnCommandLine(nameof(Root)) ? Root : PipedRoot();
        if (named is null)
        {
            return true;
        }

        try
        {
            root = ResolveRoot(named);
            return true;
        }
        catch (S3MountException e)
        {
            Fail(e, named);
            return false;
        }
    }

    /// <summary>This machine's host name, as node scripts report it.</summary>
    protected static string LocalHostName => System.Environment.MachineName;

    /// <summary>An image root as a local path: relative to $PWD, ~ and PSDrives like New-Item; it must exist and be a directory.</summary>
    protected string ResolveRoot(string? root)
    {
        var path = ResolveLocalPath(root, "-Root");
        if (!System.IO.Directory.Exists(path))
        {
            throw new S3MountException("S3MountRootNotFound", S3MountErrorKind.ObjectNotFound,
                $"The image root '{path}' (-Root) does not exist or is not a directory: S3Mount writes into an existing image tree and never creates one. Create it (or unpack the image) first.", root);
        }

        return NodeOperations.NormalizeRoot(path);
    }

    /// <summary>A path on this machine, resolved the PowerShell way (relative to $PWD, ~, PSDrives; FileSystem only).</summary>
    protected string ResolveLocalPath(string? path, string parameter)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw new S3MountException(ErrorIds.PathInvalid, S3MountErrorKind.InvalidArgument, parameter + " is empty.", parameter);
        }

        string resolved;
        ProviderInfo provider;
        try
        {
            resolved = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out provider, out _);
        }
        catch (Exception e) when (e is ItemNotFoundException or DriveNotFoundException or ProviderNotFoundException or NotSupportedException or PSArgumentException)
        {
            throw new S3MountException(ErrorIds.PathInvalid, S3MountErrorKind.InvalidArgument, $"{parameter} '{path}' is not a path on this machine: {e.Message}", path);
        }

        if (provider.Name != "FileSystem")
        {
            throw new S3MountException(ErrorIds.PathInvalid, S3MountErrorKind.InvalidArgument, $"{parameter} '{path}' is on the {provider.Name} provider; it must be a file system path on this machine.", path);
        }

        return resolved;
    }

    /// <summary>Where the work goes, appended to a ShouldProcess target: " on i-0abc...", " on nodes matching ...", " in IMAGE", " on this machine".</summary>
    protected string Where(string? instanceId, string? root = null) =>
        instanceId is not null ? " on " + instanceId
        : IsTargets ? " on nodes matching " + string.Join(", ", Target.Select(t => t.ToString()))
        : root is not null ? " in " + root
        : " on this machine";

    /// <summary>Runs a script on this machine; environment problems (not Linux, not root, no systemd) end the command.</summary>
    protected ResultBlock RunLocal(NodeScript script, object? target)
    {
        try
        {
            var output = new LocalScriptRunner().RunAsync(script, Cancellation).GetAwaiter().GetResult();
            foreach (var line in output.Stderr.Split('\n').Where(l => l.Length > 0))
            {
                WriteVerbose(line);
            }

            var block = output.Block(target);
            var error = block.First("error");
            if (error is not null && (NodeResultParser.IsEnvironmentError(error[0])))
            {
                NodeResultParser.ThrowIfError(block, target);
            }

            return block;
        }
        catch (S3MountException e) when (NodeResultParser.IsEnvironmentError(e.ErrorId) || e.ErrorId == "S3MountNotLinux")
        {
            Terminate(e, target);
            throw; // unreachable: Terminate throws
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
    }

    /// <summary>The SSM command of the node result being written (set on the pipeline thread while onResult runs).</summary>
    protected string? CurrentCommandId { get; private set; }

    /// <summary>Queues a script for one instance (or, with -Target, for the target set); sent in <see cref="RunFleet{T}"/>.</summary>
    protected void QueueFleet(string instanceId, NodeScript script, object context) => _fleetWork.Add((instanceId, script, context));

    /// <summary>
    /// Sends the queued work (or, with -Target, <paramref name="targetScript"/> to the targets) and hands each node's
    /// parsed result to <paramref name="onResult"/> on the pipeline thread; failed nodes become non-terminating errors.
    /// </summary>
    protected void RunFleet<T>(string activity, Func<ResultBlock, T> parse, Action<string, T, object?> onResult, NodeScript? targetScript = null, object? targetContext = null)
    {
        var groups = new List<(FleetRunRequest Request, object? Context)>();
        if (targetScript is not null && IsTargets)
        {
            groups.Add((Request(targetScript, Array.Empty<string>(), Target), targetContext));
        }

        foreach (var g in _fleetWork.GroupBy(w => w.Script.Text, StringComparer.Ordinal))
        {
            var ids = g.Select(w => w.InstanceId).Distinct(StringComparer.Ordinal).ToList();
            groups.Add((Request(g.First().Script, ids, Array.Empty<SsmTarget>()), g.First().Context));
        }

        _fleetWork.Clear();
        if (groups.Count == 0)
        {
            return;
        }

        var settings = ResolveAws();
        using var ssm = new SsmHttpClient(settings);
        using var reader = string.IsNullOrEmpty(OutputS3BucketName) ? null : new S3OutputReader(settings);
        var runner = new FleetRunner(ssm, reader);
        var queue = new BlockingCollection<FleetEvent<(T Value, object? Context)>>();
        var sinkProgress = new ConcurrentDictionary<int, FleetProgress>();
        var tasks = groups.Select((g, i) =>
            runner.RunAsync(g.Request, o => (parse(new ScriptOutput(o.ExitCode, o.Stdout, o.Stderr).Block(o.InstanceId)), g.Context), new Sink<(T, object?)>(queue, i, sinkProgress), Cancellation)).ToArray();
        var all = Task.WhenAll(tasks).ContinueWith(_ => queue.CompleteAdding(), TaskScheduler.Default);

        const int fleetActivity = 1;
        const int batchActivity = 2;
        var progress = new ProgressRecord(fleetActivity, "S3Mount: " + activity, "Sending to the fleet") { PercentComplete = 0 };
        var batches = new ProgressRecord(batchActivity, "SSM commands", "Sending") { ParentActivityId = fleetActivity };
        try
        {
            foreach (var e in queue.GetConsumingEnumerable())
            {
                if (e.Progress is not null)
                {
                    var done = sinkProgress.Values.Sum(p => p.NodesDone);
                    var total = Math.Max(1, sinkProgress.Values.Sum(p => p.NodesTotal));
                    progress.StatusDescription = $"{done} of {total} nodes done";
                    progress.PercentComplete = Math.Min(100, done * 100 / total);
                    WriteProgress(progress);
                    var sent = sinkProgress.Values.Sum(p => p.BatchesSent);
                    var batchTotal = Math.Max(1, sinkProgress.Values.Sum(p => p.BatchesTotal));
                    batches.StatusDescription = $"{sent} of {batchTotal} commands sent";
                    batches.PercentComplete = Math.Min(100, sent * 100 / batchTotal);
                    WriteProgress(batches);
                    continue;
                }

                var r = e.Result!;
                if (r.IsSuccess)
                {
                    CurrentCommandId = r.CommandId;
                    onResult(r.InstanceId, r.Value.Value, r.Value.Context);
                    CurrentCommandId = null;
                }
                else
                {
                    var ex = r.ToException()!;
                    Fail(new S3MountException(ex.ErrorId, ex.Kind, r.InstanceId + ": " + ex.Message, r.InstanceId), r.InstanceId);
                }
            }

            all.GetAwaiter().GetResult();
            foreach (var t in tasks)
            {
                var summary = t.GetAwaiter().GetResult();
                WriteVerbose($"S3Mount: commands {string.Join(", ", summary.CommandIds)}: {summary.Succeeded} of {summary.NodesTotal} nodes succeeded in {summary.Elapsed.TotalSeconds:0.0} s" + (summary.MaxErrorsExceeded ? " (MaxErrors exceeded)" : string.Empty));
            }
        }
        catch (S3MountException e)
        {
            Terminate(e);
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        finally
        {
            batches.RecordType = ProgressRecordType.Completed;
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(batches);
            WriteProgress(progress);
        }
    }

    /// <summary>
    /// Credentials and Region the AWS.Tools way (explicit keys, profile, -Credential, $StoredAWSCredentials, environment,
    /// default profile, instance role); where each came from goes to the debug stream. Failures end the command.
    /// </summary>
    protected ResolvedAwsSettings ResolveAws()
    {
        try
        {
            var settings = new AwsSettingsResolver().Resolve(new AwsSettingsRequest
            {
                AccessKey = AccessKey,
                SecretKey = SecretKey,
                SessionToken = SessionToken,
                ProfileName = ProfileName,
                ProfileLocation = ProfileLocation,
                Credential = Credential is PSObject p ? p.BaseObject : Credential,
                StoredCredentials = Unwrap(SessionState.PSVariable.GetValue("StoredAWSCredentials")),
                Region = Region,
                StoredRegion = Unwrap(SessionState.PSVariable.GetValue("StoredAWSRegion"))?.ToString(),
                EndpointUrl = EndpointUrl,
            });
            WriteDebug("S3Mount: " + settings.Describe());
            return settings;
        }
        catch (S3MountException e)
        {
            Terminate(e);
            throw;
        }
    }

    private FleetRunRequest Request(NodeScript script, IReadOnlyList<string> ids, IReadOnlyList<SsmTarget> targets) => new()
    {
        Script = script.Text,
        InstanceIds = ids,
        Targets = targets,
        MaxConcurrency = MaxConcurrency,
        MaxErrors = MaxErrors,
        DeliveryTimeoutSeconds = TimeoutSeconds,
        ExecutionTimeoutSeconds = ExecutionTimeoutSeconds,
        OutputS3BucketName = OutputS3BucketName,
        OutputS3KeyPrefix = OutputS3KeyPrefix,
        OutputS3Region = OutputS3Region,
        CloudWatchLogGroupName = CloudWatchLogGroupName,
        Comment = Comment ?? (("S3Mount " + script.Operation).Length <= 100 ? "S3Mount " + script.Operation : "S3Mount"),
    };

    private static object? Unwrap(object? value) => value is PSObject p ? p.BaseObject : value;

    private sealed class Sink<T> : IFleetSink<T>
    {
        private readonly BlockingCollection<FleetEvent<T>> _queue;
        private readonly int _index;
        private readonly ConcurrentDictionary<int, FleetProgress> _progress;

        public Sink(BlockingCollection<FleetEvent<T>> queue, int index, ConcurrentDictionary<int, FleetProgress> progress)
        {
            _queue = queue;
            _index = index;
            _progress = progress;
        }

        public void OnResult(FleetNodeResult<T> result) => Add(new FleetEvent<T> { Result = result });

        public void OnProgress(FleetProgress progress)
        {
            _progress[_index] = progress;
            Add(new FleetEvent<T> { Progress = progress });
        }

        private void Add(FleetEvent<T> e)
        {
            try
            {
                _queue.Add(e);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
