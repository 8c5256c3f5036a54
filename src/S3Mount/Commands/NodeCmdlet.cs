using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;

namespace S3Mount.Commands;

/// <summary>
/// Base of every cmdlet that acts on nodes: on this machine (no -InstanceId / -Target), or on EC2 fleets through SSM
/// Run Command. Pipeline input is collected; fleet work is sent as batched commands (one per distinct script, at most
/// 50 instances each) and results stream back as nodes finish, drained on the pipeline thread.
/// </summary>
public abstract class NodeCmdlet : S3MountCmdlet
{
    private readonly List<(string InstanceId, NodeScript Script, object Context)> _fleetWork = new();

    /// <summary>EC2 instance ids; binds by property name, so EC2, SSM and S3Mount objects pipe in.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [AllowNull]
    [AllowEmptyCollection]
    [Alias("Instance")]
    public string[]? InstanceId { get; set; }

    /// <summary>SSM tag targets: <c>tag:Role=hpc-compute</c>, <c>tag-key=Scratch</c>, <c>resource-groups:Name=rg</c> (at most 5).</summary>
    [Parameter]
    [ValidateCount(1, 5)]
    public string[]? Target { get; set; }

    /// <summary>How many nodes run the command at once: <c>N</c> or <c>N%</c>.</summary>
    [Parameter]
    [ValidatePattern("^([1-9][0-9]{0,5}|([1-9][0-9]?|100)%)$")]
    public string? MaxConcurrency { get; set; }

    /// <summary>How many node errors are tolerated before no new nodes start: <c>N</c> or <c>N%</c>.</summary>
    [Parameter]
    [ValidatePattern("^([0-9]{1,6}|([0-9]{1,2}|100)%)$")]
    [Alias("MaxError")]
    public string? MaxErrors { get; set; }

    /// <summary>How long a node may take to receive the command (SSM TimeoutSeconds, 30 to 2592000).</summary>
    [Parameter]
    [ValidateRange(30, 2592000)]
    [Alias("TimeoutSecond")]
    public int? TimeoutSeconds { get; set; }

    /// <summary>How long the script may run on each node (1 to 172800; default 3600).</summary>
    [Parameter]
    [ValidateRange(1, 172800)]
    public int? ExecutionTimeoutSeconds { get; set; }

    /// <summary>An S3 bucket for the full command output, read back when SSM cuts a node's output short.</summary>
    [Parameter]
    public string? OutputS3BucketName { get; set; }

    [Parameter]
    public string? OutputS3KeyPrefix { get; set; }

    /// <summary>An AWS credentials profile (AWS.Tools: -ProfileName).</summary>
    [Parameter]
    [Alias("Profile", "StoredCredentials", "AWSProfileName")]
    public string? ProfileName { get; set; }

    /// <summary>The credentials file the profile is read from.</summary>
    [Parameter]
    [Alias("AWSProfilesLocation", "ProfilesLocation")]
    public string? ProfileLocation { get; set; }

    /// <summary>An AWSCredentials object (from AWS.Tools) to call SSM with.</summary>
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

    /// <summary>The Region SSM is called in (each cmdlet names the parameter; see <see cref="AwsCmdlet"/>).</summary>
    protected abstract string? SsmRegionValue { get; }

    /// <summary>An SSM endpoint override (VPC endpoints, tests).</summary>
    protected abstract string? SsmEndpointValue { get; }

    /// <summary>True when this invocation targets a fleet.</summary>
    protected bool IsFleet => (InstanceId is { Length: > 0 } && InstanceId.Any(i => !string.IsNullOrEmpty(i))) || Target is { Length: > 0 };

    /// <summary>The instance ids bound for the current pipeline record.</summary>
    protected IEnumerable<string> CurrentInstances => (InstanceId ?? Array.Empty<string>()).Where(i => !string.IsNullOrEmpty(i)).Distinct(StringComparer.Ordinal);

    /// <summary>The node the work goes to, as ShouldProcess names it.</summary>
    protected string NodeName(string? instanceId) =>
        instanceId ?? (Target is { Length: > 0 } ? "nodes matching " + string.Join(", ", Target) : "this machine");

    /// <summary>Where the work goes, appended to a ShouldProcess target: " on i-0abc...", " on this machine", " in IMAGE".</summary>
    protected string Where(string? instanceId, string? imageRoot = null) =>
        instanceId is null && imageRoot is not null ? " in " + imageRoot : " on " + NodeName(instanceId);

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

    /// <summary>Queues a script for one instance (or, with -Target, for the target set); sent in <see cref="RunFleet{T}"/>.</summary>
    protected void QueueFleet(string instanceId, NodeScript script, object context) => _fleetWork.Add((instanceId, script, context));

    /// <summary>
    /// Sends the queued work (or, with -Target, <paramref name="targetScript"/> to the targets) and hands each node's
    /// parsed result to <paramref name="onResult"/> on the pipeline thread; failed nodes become non-terminating errors.
    /// </summary>
    protected void RunFleet<T>(string activity, Func<ResultBlock, T> parse, Action<string, T, object?> onResult, NodeScript? targetScript = null, object? targetContext = null)
    {
        var groups = new List<(FleetRunRequest Request, object? Context)>();
        if (targetScript is not null && Target is { Length: > 0 })
        {
            groups.Add((Request(targetScript, Array.Empty<string>(), ParseTargets(Target)), targetContext));
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
                    onResult(r.InstanceId, r.Value.Value, r.Value.Context);
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
    protected ResolvedAwsSettings ResolveAws() => ResolveAws(AccessKey, SecretKey, SessionToken, ProfileName, ProfileLocation, Credential, SsmRegionValue, SsmEndpointValue);

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
        Comment = ("S3Mount " + script.Operation).Length <= 100 ? "S3Mount " + script.Operation : "S3Mount",
    };

    /// <summary>Parses <c>tag:Role=a,b</c> into SSM targets.</summary>
    internal static IReadOnlyList<SsmTarget> ParseTargets(IEnumerable<string> targets) => targets.Select(t =>
    {
        var eq = t.IndexOf('=');
        if (eq <= 0 || eq == t.Length - 1)
        {
            throw new PSArgumentException($"'{t}' is not a target: use Key=Value[,Value...], for example tag:Role=hpc-compute or tag-key=Scratch.", nameof(Target));
        }

        return new SsmTarget(t.Substring(0, eq), t.Substring(eq + 1).Split(',').Select(v => v.Trim()).Where(v => v.Length > 0).ToList());
    }).ToList();

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

/// <summary>A node cmdlet with the AWS.Tools <c>-Region</c> and <c>-EndpointUrl</c> parameters for SSM.</summary>
public abstract class AwsCmdlet : NodeCmdlet
{
    /// <summary>The Region SSM is called in (AWS.Tools: -Region; $StoredAWSRegion when not given).</summary>
    [Parameter]
    [Alias("RegionToCall")]
    public string? Region { get; set; }

    /// <summary>An SSM endpoint URL (VPC endpoints, tests).</summary>
    [Parameter]
    public string? EndpointUrl { get; set; }

    protected override string? SsmRegionValue => Region;

    protected override string? SsmEndpointValue => EndpointUrl;
}
