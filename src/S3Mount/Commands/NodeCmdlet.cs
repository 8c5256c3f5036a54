using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
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
    private readonly Dictionary<object, NodeScript> _scripts = new();
    private readonly Dictionary<string, NodeScript> _scriptsByText = new(StringComparer.Ordinal);
    private NodeScript? _lastQueuedIn;
    private NodeScript? _lastQueuedOut;

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
    [Alias("StoredCredentials", "AWSProfileName")]
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

    /// <summary>
    /// One composition per distinct input (<paramref name="key"/>: anything with value equality): 10,000 nodes with the
    /// same operation share one script of some 30 KB instead of holding 10,000 copies until the fleet run.
    /// </summary>
    protected NodeScript CachedScript(object key, Func<NodeScript> build)
    {
        if (!_scripts.TryGetValue(key, out var script))
        {
            _scripts[key] = script = build();
        }

        return script;
    }

    /// <summary>Queues a script for one instance; sent in <see cref="RunFleet{T}"/>. Scripts of equal text are kept once.</summary>
    protected void QueueFleet(string instanceId, NodeScript script, object context)
    {
        if (!ReferenceEquals(script, _lastQueuedIn))
        {
            _lastQueuedIn = script;
            if (!_scriptsByText.TryGetValue(script.Text, out var same))
            {
                _scriptsByText[script.Text] = same = script;
            }

            _lastQueuedOut = same;
        }

        _fleetWork.Add((instanceId, _lastQueuedOut!, context));
    }

    /// <summary>
    /// Sends the queued work (or, with -Target, <paramref name="targetScript"/> to the targets) as one fleet run and hands
    /// each node's parsed result to <paramref name="onResult"/> on the pipeline thread; failed nodes become non-terminating
    /// errors. One queue carries results and progress of every script.
    /// </summary>
    protected void RunFleet<T>(string activity, Func<ResultBlock, T> parse, Action<string, T, object?> onResult, NodeScript? targetScript = null, object? targetContext = null)
    {
        var groups = new List<(FleetRunRequest Request, object? Context, IReadOnlyList<string> Ids)>();
        if (targetScript is not null && Target is { Length: > 0 })
        {
            groups.Add((Request(targetScript, Array.Empty<string>(), ParseTargets(Target)), targetContext, Array.Empty<string>()));
        }

        // Queued scripts of equal text are one instance already (QueueFleet): group by reference, not by 30 KB of text per node.
        foreach (var g in _fleetWork.GroupBy(w => w.Script))
        {
            var ids = g.Select(w => w.InstanceId).Distinct(StringComparer.Ordinal).ToList();
            groups.Add((Request(g.First().Script, ids, Array.Empty<SsmTarget>()), g.First().Context, ids));
        }

        _fleetWork.Clear();
        _scriptsByText.Clear();
        _lastQueuedIn = _lastQueuedOut = null;
        if (groups.Count == 0)
        {
            return;
        }

        var settings = ResolveAws();
        try
        {
            settings.EnsureCredentialsAsync().GetAwaiter().GetResult();
        }
        catch (S3MountException e)
        {
            Terminate(e);
        }

        groups = groups.Where(g => AdmitFleetWork(settings, g.Context, g.Ids)).ToList();
        if (groups.Count == 0)
        {
            return;
        }

        using var ssm = new SsmClient(settings);
        var reader = string.IsNullOrEmpty(OutputS3BucketName) ? null : new S3OutputReader(settings);
        var runner = new FleetRunner(ssm, reader);
        var contexts = groups.Select(g => g.Context).ToList();
        using var run = runner.Start(groups.Select(g => g.Request).ToList(), o => parse(o.Block), Cancellation);

        const int fleetActivity = 1;
        const int batchActivity = 2;
        var progress = new ProgressRecord(fleetActivity, "S3Mount: " + activity, "Sending to the fleet") { PercentComplete = 0 };
        var batches = new ProgressRecord(batchActivity, "SSM commands", "Sending") { ParentActivityId = fleetActivity };
        try
        {
            foreach (var e in run.GetConsumingEnumerable())
            {
                if (e.Progress is { } p)
                {
                    progress.StatusDescription = $"{p.NodesFinished} of {p.NodesTotal} nodes finished, {p.NodesDone} results";
                    progress.PercentComplete = p.PercentComplete;
                    WriteProgress(progress);
                    batches.StatusDescription = $"{p.BatchesSent} of {p.BatchesTotal} commands sent";
                    batches.PercentComplete = p.BatchesTotal <= 0 ? 100 : Math.Min(100, p.BatchesSent * 100 / p.BatchesTotal);
                    WriteProgress(batches);
                    continue;
                }

                var r = e.Result!;
                if (r.IsSuccess)
                {
                    onResult(r.InstanceId, r.Value!, contexts[r.RequestIndex]);
                }
                else
                {
                    var ex = r.ToException()!;
                    Fail(new S3MountException(ex.ErrorId, ex.Kind, r.InstanceId + ": " + ex.Message, r.InstanceId), r.InstanceId);
                }
            }

            var summary = run.Completion.GetAwaiter().GetResult();
            WriteVerbose($"S3Mount: {summary.Succeeded} of {summary.NodesTotal} nodes succeeded in {summary.Elapsed.TotalSeconds:0.0} s, {summary.CommandIds.Count} commands, {summary.ApiCalls} SSM calls ({summary.ThrottledCalls} throttled)" + (summary.MaxErrorsExceeded ? "; MaxErrors exceeded" : string.Empty));
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
            if (Cancellation.IsCancellationRequested)
            {
                // Ctrl+C: the run cancels its commands; give it the moment it needs before the session moves on.
                run.Completion.Wait(TimeSpan.FromSeconds(10));
            }

            (reader as IDisposable)?.Dispose();
            batches.RecordType = ProgressRecordType.Completed;
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(batches);
            WriteProgress(progress);
        }
    }

    /// <summary>
    /// A last admin-side check of one script's work before anything is sent (New-S3MountService checks the bucket);
    /// false drops that work, after writing its error. <paramref name="context"/> is what was queued with the script.
    /// </summary>
    protected virtual bool AdmitFleetWork(ResolvedAwsSettings settings, object? context, IReadOnlyList<string> instanceIds) => true;

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
                Region = SsmRegionValue,
                StoredRegion = Unwrap(SessionState.PSVariable.GetValue("StoredAWSRegion"))?.ToString(),
                EndpointUrl = SsmEndpointValue,
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

    private static object? Unwrap(object? value) => value is PSObject p ? p.BaseObject : value;
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
