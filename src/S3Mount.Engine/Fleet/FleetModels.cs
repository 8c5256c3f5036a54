using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;

namespace S3Mount.Engine.Fleet;

/// <summary>
/// One script to run on many nodes through SSM Run Command. Several requests (one per distinct script) can run as one
/// fleet run (<see cref="FleetRunner.Start{T}(IReadOnlyList{FleetRunRequest}, Func{FleetNodeOutput, T}, CancellationToken)"/>);
/// they then share one preflight, one call budget and one MaxConcurrency/MaxErrors, so those must be equal in all of them.
/// </summary>
public sealed class FleetRunRequest
{
    /// <summary>A POSIX sh script; it runs with /bin/sh and should print a result block last on stdout.</summary>
    public string Script { get; init; } = string.Empty;

    /// <summary>Instance ids (from the pipeline). Either these or <see cref="Targets"/>.</summary>
    public IReadOnlyList<string> InstanceIds { get; init; } = Array.Empty<string>();

    /// <summary>Up to 5 targets such as <c>tag:Role=web</c>; resolved by SSM, no preflight.</summary>
    public IReadOnlyList<SsmTarget> Targets { get; init; } = Array.Empty<SsmTarget>();

    /// <summary><c>N</c> or <c>N%</c> across the whole fleet; null = no limit beyond the runner's commands in flight.</summary>
    public string? MaxConcurrency { get; init; }

    /// <summary><c>N</c> or <c>N%</c> across the whole fleet; once errors exceed it no new nodes start. Null = no limit.</summary>
    public string? MaxErrors { get; init; }

    /// <summary>SSM <c>TimeoutSeconds</c>: how long a node may take to receive the command (30..2592000; SSM's default 3600).</summary>
    public int? DeliveryTimeoutSeconds { get; init; }

    /// <summary>AWS-RunShellScript <c>executionTimeout</c> (1..172800; SSM default 3600).</summary>
    public int? ExecutionTimeoutSeconds { get; init; }

    public string? WorkingDirectory { get; init; }
    public string? OutputS3BucketName { get; init; }
    public string? OutputS3KeyPrefix { get; init; }
    public string? OutputS3Region { get; init; }

    /// <summary>At most 100 characters.</summary>
    public string? Comment { get; init; }

    /// <summary>A CloudWatch Logs group SSM sends the command output to (SendCommand CloudWatchOutputConfig), or null.</summary>
    public string? CloudWatchLogGroupName { get; init; }
}

/// <summary>Tuning of <see cref="FleetRunner"/>; the defaults suit real SSM.</summary>
public sealed class FleetRunnerOptions
{
    /// <summary>How often commands are polled at first; the interval shortens as the fleet nears completion.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Each poll waits this factor longer than the one before (long runs), up to <see cref="MaxPollInterval"/>.</summary>
    public double PollGrowth { get; init; } = 1.1;

    public TimeSpan MaxPollInterval { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// The shortest poll interval: the interval is <see cref="PollInterval"/> times the share of sent nodes still running,
    /// so the last nodes are seen soon after they finish without polling a busy fleet more often.
    /// </summary>
    public TimeSpan MinPollInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// A node that finished is fetched (its result streamed) at the latest this long after a poll first counted it; a
    /// command whose nodes have all finished is fetched at once. Progress follows every poll regardless.
    /// </summary>
    public TimeSpan ResultLatency { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Instance ids per SendCommand (SSM allows 50).</summary>
    public int BatchSize { get; init; } = 50;

    /// <summary>Commands in flight at once when MaxConcurrency does not say fewer.</summary>
    public int MaxCommandsInFlight { get; init; } = 250;

    /// <summary>Concurrent API calls the runner itself makes (sends, polls, fallbacks, preflight pages).</summary>
    public int MaxParallelCalls { get; init; } = 8;

    /// <summary>
    /// The fleet's throttle policy: a throttled call that must succeed (SendCommand, a preflight page, GetCommandInvocation,
    /// CancelCommand) is tried this many times in all, with full-jitter exponential back-off from
    /// <see cref="ThrottleBackoff"/> up to <see cref="MaxThrottleBackoff"/>; a throttled poll is simply the next poll.
    /// 1 leaves throttling to the SDK (<see cref="Ssm.SsmClientOptions.SdkRetriesThrottling"/>).
    /// </summary>
    public int ThrottleAttempts { get; init; } = 10;

    public TimeSpan ThrottleBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxThrottleBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many times a GetCommandInvocation answering InvocationDoesNotExist is tried again.</summary>
    public int InvocationDoesNotExistRetries { get; init; } = 5;

    /// <summary>Consecutive failed polls of one command before its nodes are given up as ApiError.</summary>
    public int MaxConsecutivePollFailures { get; init; } = 30;

    /// <summary>
    /// Past the delivery timeout plus the execution timeout plus this, a node SSM still shows Pending or InProgress (the
    /// agent died, or the service never moved it on) gets its own error and CancelCommand, so every node has a result.
    /// </summary>
    public TimeSpan StatusGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Check nodes with DescribeInstanceInformation first (instance-id runs only).</summary>
    public bool Preflight { get; init; } = true;

    /// <summary>Time allowed for CancelCommand calls after the caller cancels.</summary>
    public TimeSpan CancelGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Progress is reported at most this often (and always at the end).</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    public Func<TimeSpan, CancellationToken, Task> Delay { get; init; } = (d, ct) => Task.Delay(d, ct);
}

/// <summary>What a node produced, handed to the caller's parse function.</summary>
public sealed class FleetNodeOutput
{
    public string InstanceId { get; init; } = string.Empty;
    public string CommandId { get; init; } = string.Empty;

    /// <summary>Which request of the run (0 for a single request).</summary>
    public int RequestIndex { get; init; }

    public int ExitCode { get; init; }
    public string Stdout { get; init; } = string.Empty;
    public string Stderr { get; init; } = string.Empty;

    /// <summary>The node's well-formed result block (the parse function reads it).</summary>
    public ResultBlock Block { get; init; } = new(Array.Empty<ResultRecord>());

    /// <summary><c>ListCommandInvocations</c>, <c>GetCommandInvocation</c> or <c>S3</c>.</summary>
    public string OutputSource { get; init; } = string.Empty;
}

public enum FleetOutcome
{
    Succeeded,
    /// <summary>The script ran and failed (its own error id when it printed one), or its result could not be read.</summary>
    Failed,
    ExecutionTimedOut,
    DeliveryTimedOut,
    Undeliverable,
    Cancelled,
    /// <summary>Not started because the fleet's MaxErrors was exceeded.</summary>
    NotStarted,
    AgentOffline,
    NotLinux,
    NotFound,
    /// <summary>The output was cut short and no complete copy could be read.</summary>
    OutputTruncated,
    Throttled,
    ApiError,
}

/// <summary>Exactly one per node and request: a success with the parsed value, or a classified failure.</summary>
public sealed class FleetNodeResult<T>
{
    public string InstanceId { get; init; } = string.Empty;

    /// <summary>Which request of the run (0 for a single request).</summary>
    public int RequestIndex { get; init; }

    public FleetOutcome Outcome { get; init; }
    public bool IsSuccess => Outcome == FleetOutcome.Succeeded;
    public string? CommandId { get; init; }
    public int? ExitCode { get; init; }
    public string? Stdout { get; init; }
    public string? Stderr { get; init; }
    public string? OutputSource { get; init; }

    /// <summary>The parse function's result (successes only).</summary>
    public T? Value { get; init; }

    /// <summary>The SSM invocation status and details, when SSM reported one.</summary>
    public string? SsmStatus { get; init; }
    public string? SsmStatusDetails { get; init; }
    public string? PlatformName { get; init; }

    /// <summary>Stable id: the script's own (from its <c>error</c> record) or an <see cref="SsmErrorIds"/> word.</summary>
    public string? ErrorId { get; init; }
    public string? ErrorMessage { get; init; }
    public S3MountErrorKind? ErrorKind { get; init; }

    /// <summary>The failure as an exception for <c>WriteError</c> (target = instance id); null for successes.</summary>
    public S3MountException? ToException() =>
        IsSuccess ? null : new S3MountException(ErrorId ?? SsmErrorIds.SsmApiError, ErrorKind ?? S3MountErrorKind.InvalidOperation, ErrorMessage ?? Outcome.ToString(), InstanceId);

    public override string ToString() => InstanceId + ": " + Outcome + (ErrorId is null ? string.Empty : " " + ErrorId + " " + ErrorMessage);
}

/// <summary>For Write-Progress: commands sent, nodes finished (as SSM counts them) and results delivered.</summary>
public sealed class FleetProgress
{
    public int BatchesSent { get; init; }
    public int BatchesTotal { get; init; }

    /// <summary>Nodes whose result has been delivered.</summary>
    public int NodesDone { get; init; }

    /// <summary>Nodes SSM reports finished (their result may still be on its way), at least <see cref="NodesDone"/>.</summary>
    public int NodesFinished { get; init; }

    public int NodesTotal { get; init; }
    public string? LastInstanceId { get; init; }

    /// <summary>True for the last record of a run.</summary>
    public bool Final { get; init; }

    public int PercentComplete => NodesTotal <= 0 ? (Final ? 100 : 0) : Math.Min(100, Math.Max(NodesDone, NodesFinished) * 100 / NodesTotal);
}

public sealed class FleetRunSummary
{
    public int NodesTotal { get; init; }
    public int Succeeded { get; init; }
    public int FailedNodes { get; init; }
    public IReadOnlyList<string> CommandIds { get; init; } = Array.Empty<string>();
    public bool Cancelled { get; init; }
    public bool MaxErrorsExceeded { get; init; }
    public TimeSpan Elapsed { get; init; }

    /// <summary>SSM calls the runner made (attempts the SDK repeats inside one call not counted).</summary>
    public int ApiCalls { get; init; }

    /// <summary>Calls SSM answered with throttling.</summary>
    public int ThrottledCalls { get; init; }
}

/// <summary>Receives results and progress from worker threads; implementations must be thread-safe.</summary>
public interface IFleetSink<T>
{
    void OnResult(FleetNodeResult<T> result);

    void OnProgress(FleetProgress progress);
}

/// <summary>Reads the full output SSM wrote to S3; null when the object does not exist. Reads are bounded.</summary>
public interface ISsmOutputReader
{
    Task<string?> ReadTextAsync(string bucket, string key, string? region, CancellationToken cancellationToken);
}
