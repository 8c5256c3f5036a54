using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Ssm;

namespace S3Mount.Engine.Fleet;

/// <summary>
/// Runs scripts on many nodes through SSM Run Command, with exactly one result per node, streamed as nodes finish. The
/// work is split by job: the <see cref="FleetPlanner{T}"/> (preflight, batches of at most 50 instances, MaxConcurrency,
/// MaxErrors), the <see cref="CommandPoller{T}"/> (one ListCommands sweep for all commands, invocations fetched when
/// worth it, adaptive intervals, deadlines) and the <see cref="OutputFetcher{T}"/> (full output, untrusted-output
/// reading). All SSM calls share one budget and one throttle policy (<see cref="SsmCalls"/>).
/// </summary>
public sealed class FleetRunner
{
    public const string DocumentName = "AWS-RunShellScript";
    public const string ErrorSeparator = "----------ERROR-------";

    /// <summary>ListCommandInvocations (Details) cuts plugin output here.</summary>
    public const int DetailsOutputLimit = 2500;

    /// <summary>GetCommandInvocation cuts standard output here.</summary>
    public const int StdoutLimit = 24000;

    private static readonly Regex CountOrPercent = new("^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$", RegexOptions.CultureInvariant);

    private readonly ISsmClient _ssm;
    private readonly ISsmOutputReader? _outputReader;
    private readonly FleetRunnerOptions _options;

    public FleetRunner(ISsmClient ssm, ISsmOutputReader? outputReader = null, FleetRunnerOptions? options = null)
    {
        _ssm = ssm ?? throw new ArgumentNullException(nameof(ssm));
        _outputReader = outputReader;
        _options = options ?? new FleetRunnerOptions();
    }

    /// <summary>
    /// Starts a run of one or more requests on worker tasks and returns at once. Drain
    /// <see cref="FleetRun{T}.GetConsumingEnumerable"/> on the caller's thread (WriteObject/WriteError/WriteProgress there):
    /// one queue for every request; each result says which request it belongs to. Then await <see cref="FleetRun{T}.Completion"/>.
    /// </summary>
    public FleetRun<T> Start<T>(IReadOnlyList<FleetRunRequest> requests, Func<FleetNodeOutput, T> parse, CancellationToken cancellationToken)
    {
        Validate(requests);
        var run = new FleetRun<T>();
        run.Completion = Task.Run(async () =>
        {
            try
            {
                return await RunCoreAsync(requests, parse, run, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                run.Complete();
            }
        });
        return run;
    }

    public FleetRun<T> Start<T>(FleetRunRequest request, Func<FleetNodeOutput, T> parse, CancellationToken cancellationToken) =>
        Start(new[] { request }, parse, cancellationToken);

    /// <summary>Runs to the end, handing every node's result to <paramref name="sink"/> as it finishes (from worker threads).</summary>
    public Task<FleetRunSummary> RunAsync<T>(FleetRunRequest request, Func<FleetNodeOutput, T> parse, IFleetSink<T> sink, CancellationToken cancellationToken) =>
        RunAsync(new[] { request }, parse, sink, cancellationToken);

    public Task<FleetRunSummary> RunAsync<T>(IReadOnlyList<FleetRunRequest> requests, Func<FleetNodeOutput, T> parse, IFleetSink<T> sink, CancellationToken cancellationToken)
    {
        Validate(requests);
        return RunCoreAsync(requests, parse, sink, cancellationToken);
    }

    private async Task<FleetRunSummary> RunCoreAsync<T>(IReadOnlyList<FleetRunRequest> requests, Func<FleetNodeOutput, T> parse, IFleetSink<T> sink, CancellationToken ct)
    {
        var state = new FleetState<T>(requests, parse, sink, _options, ct);
        var fetcher = new OutputFetcher<T>(state, _ssm, _outputReader);
        var poller = new CommandPoller<T>(state, _ssm, fetcher);
        var planner = new FleetPlanner<T>(state, _ssm, poller);
        var polling = Task.Run(poller.RunAsync);
        try
        {
            await planner.RunAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            poller.SendingDone();
        }

        try
        {
            await polling.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        if (ct.IsCancellationRequested)
        {
            await poller.CancelOutstandingAsync().ConfigureAwait(false);
        }

        await fetcher.WaitAsync().ConfigureAwait(false);
        state.ReportLeftovers();
        state.Progress(null, final: true);
        return state.Summary(poller.CommandIds);
    }

    /// <summary>Refuses requests SSM would reject, or that cannot run as one fleet, before anything is sent.</summary>
    public static void Validate(IReadOnlyList<FleetRunRequest> requests)
    {
        if (requests is null || requests.Count == 0)
        {
            throw new S3MountException(SsmErrorIds.SsmRequestInvalid, S3MountErrorKind.InvalidArgument, "Give at least one request.", null);
        }

        foreach (var r in requests)
        {
            Validate(r);
            if (r.MaxConcurrency != requests[0].MaxConcurrency || r.MaxErrors != requests[0].MaxErrors)
            {
                throw new S3MountException(SsmErrorIds.SsmRequestInvalid, S3MountErrorKind.InvalidArgument,
                    "The requests of one fleet run share MaxConcurrency and MaxErrors.", r);
            }
        }
    }

    /// <summary>Refuses a request SSM would reject, before anything is sent.</summary>
    public static void Validate(FleetRunRequest r)
    {
        static S3MountException Bad(string message, object? target) =>
            new(SsmErrorIds.SsmRequestInvalid, S3MountErrorKind.InvalidArgument, message, target);

        if (string.IsNullOrWhiteSpace(r.Script))
        {
            throw Bad("The script is empty.", null);
        }

        if (r.InstanceIds.Count > 0 && r.Targets.Count > 0)
        {
            throw Bad("Give instance ids or targets, not both.", null);
        }

        if (r.InstanceIds.Count == 0 && r.Targets.Count == 0)
        {
            throw Bad("Give at least one instance id or target.", null);
        }

        if (r.Targets.Count > 5)
        {
            throw Bad("SSM accepts at most 5 targets.", r.Targets);
        }

        foreach (var t in r.Targets)
        {
            if (string.IsNullOrEmpty(t.Key) || t.Key.Length > 163 || t.Values.Count == 0 || t.Values.Count > 50)
            {
                throw Bad("A target needs a key of 1..163 characters and 1..50 values: " + t, t);
            }
        }

        if (r.Comment is not null && r.Comment.Length > 100)
        {
            throw Bad("-Comment is limited to 100 characters.", r.Comment);
        }

        if (r.MaxConcurrency is not null && (!CountOrPercent.IsMatch(r.MaxConcurrency) || r.MaxConcurrency == "0" || r.MaxConcurrency == "0%" || r.MaxConcurrency.Length > 7))
        {
            throw Bad("-MaxConcurrency must be a number >= 1 or a percentage 1%..100%.", r.MaxConcurrency);
        }

        if (r.MaxErrors is not null && (!CountOrPercent.IsMatch(r.MaxErrors) || r.MaxErrors.Length > 7))
        {
            throw Bad("-MaxErrors must be a number >= 0 or a percentage 0%..100%.", r.MaxErrors);
        }

        if (r.DeliveryTimeoutSeconds is int d && (d < 30 || d > 2592000))
        {
            throw Bad("-TimeoutSeconds (delivery timeout) must be 30..2592000.", d);
        }

        if (r.ExecutionTimeoutSeconds is int e && (e < 1 || e > 172800))
        {
            throw Bad("The execution timeout must be 1..172800 seconds.", e);
        }

        if (r.OutputS3BucketName is not null && (r.OutputS3BucketName.Length < 3 || r.OutputS3BucketName.Length > 63))
        {
            throw Bad("-OutputS3BucketName must be 3..63 characters.", r.OutputS3BucketName);
        }

        if (r.CloudWatchLogGroupName is not null && !System.Text.RegularExpressions.Regex.IsMatch(r.CloudWatchLogGroupName, "^[\\.\\-_/#A-Za-z0-9]{1,512}$"))
        {
            throw Bad("-CloudWatchLogGroupName must be 1..512 characters of letters, digits and . - _ / #.", r.CloudWatchLogGroupName);
        }

        if (r.OutputS3KeyPrefix is not null && r.OutputS3KeyPrefix.Length > 500)
        {
            throw Bad("-OutputS3KeyPrefix is limited to 500 characters.", r.OutputS3KeyPrefix);
        }

        // SSM reads both only with an output bucket; without one they would be dropped without a word.
        if (r.OutputS3BucketName is null && (r.OutputS3Region is not null || r.OutputS3KeyPrefix is not null))
        {
            throw Bad((r.OutputS3Region is not null ? "-OutputS3Region" : "-OutputS3KeyPrefix") + " says where the output bucket is: it goes with -OutputS3BucketName.", r.OutputS3Region ?? r.OutputS3KeyPrefix);
        }
    }

    /// <summary>Resolves <c>N</c> / <c>N%</c> against a node count; null for no limit.</summary>
    internal static int? ResolveCount(string? value, int total, bool atLeastOne)
    {
        if (value is null)
        {
            return null;
        }

        int n;
        if (value.EndsWith("%", StringComparison.Ordinal))
        {
            var pct = int.Parse(value.Substring(0, value.Length - 1), CultureInfo.InvariantCulture);
            n = (int)Math.Ceiling(total * pct / 100.0);
            if (!atLeastOne)
            {
                n = (int)Math.Floor(total * pct / 100.0);
            }
        }
        else
        {
            n = int.Parse(value, CultureInfo.InvariantCulture);
        }

        return atLeastOne ? Math.Max(1, n) : Math.Max(0, n);
    }

    /// <summary>Splits plugin Output ("stdout\n----------ERROR-------\nstderr") into its two streams.</summary>
    public static (string Stdout, string Stderr) SplitPluginOutput(string? output)
    {
        if (string.IsNullOrEmpty(output))
        {
            return (string.Empty, string.Empty);
        }

        var i = output!.IndexOf(ErrorSeparator, StringComparison.Ordinal);
        if (i < 0)
        {
            return (output, string.Empty);
        }

        var stdout = output.Substring(0, i);
        if (stdout.EndsWith("\n", StringComparison.Ordinal))
        {
            stdout = stdout.Substring(0, stdout.Length - 1);
        }

        var stderr = output.Substring(i + ErrorSeparator.Length);
        if (stderr.StartsWith("\n", StringComparison.Ordinal))
        {
            stderr = stderr.Substring(1);
        }

        return (stdout, stderr);
    }
}
