using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using Amazon.SimpleSystemsManagement.Model;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Ssm;

namespace S3Mount.Engine.Fleet;

/// <summary>
/// What the planner, the poller and the output fetcher of one fleet run share: the requests, the one call budget, the
/// MaxErrors count, and the rule that every node of every request gets exactly one result.
/// </summary>
internal sealed class FleetState<T>
{
    private readonly ConcurrentDictionary<string, (int Request, string InstanceId)> _known = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _reported = new(StringComparer.Ordinal);
    private readonly object _progressGate = new();
    private TimeSpan? _lastProgress;
    private int _succeeded;
    private int _failed;
    private int _errors;
    private int _batchesSent;
    private volatile bool _stopNew;

    public FleetState(IReadOnlyList<FleetRunRequest> requests, Func<FleetNodeOutput, T> parse, IFleetSink<T> sink, FleetRunnerOptions options, CancellationToken cancellationToken)
    {
        Requests = requests;
        Parse = parse;
        Sink = sink;
        Options = options;
        Ct = cancellationToken;
        Calls = new SsmCalls(options, cancellationToken);
    }

    public IReadOnlyList<FleetRunRequest> Requests { get; }
    public Func<FleetNodeOutput, T> Parse { get; }
    public IFleetSink<T> Sink { get; }
    public FleetRunnerOptions Options { get; }
    public CancellationToken Ct { get; }
    public SsmCalls Calls { get; }
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    /// <summary>Platform names from the preflight, for results.</summary>
    public ConcurrentDictionary<string, string?> Platform { get; } = new(StringComparer.Ordinal);

    /// <summary>The fleet's MaxErrors as a count; <see cref="int.MaxValue"/> when there is none.</summary>
    public int ErrorThreshold { get; set; } = int.MaxValue;

    /// <summary>Once errors exceed MaxErrors no new command is sent.</summary>
    public bool StopNew => _stopNew;

    public int BatchesTotal { get; set; }

    public int BatchesSent => Volatile.Read(ref _batchesSent);

    /// <summary>Nodes SSM counts finished whose results are not delivered yet (the poller keeps it current).</summary>
    public Func<int> FinishedNotDelivered { get; set; } = () => 0;

    public int NodesTotal => _known.Count;

    public int Delivered => _reported.Count;

    private static string Key(int request, string id) => request.ToString(CultureInfo.InvariantCulture) + "/" + id;

    /// <summary>A node of a request becomes known: it will get exactly one result.</summary>
    public bool Know(int request, string id) => _known.TryAdd(Key(request, id), (request, id));

    public bool IsKnown(int request, string id) => _known.ContainsKey(Key(request, id));

    public bool IsReported(int request, string id) => _reported.ContainsKey(Key(request, id));

    public void CountError()
    {
        if (Interlocked.Increment(ref _errors) > ErrorThreshold)
        {
            _stopNew = true;
        }
    }

    /// <summary>A target command SSM stopped for MaxErrors stops the run's other sends too.</summary>
    public void MarkMaxErrorsExceeded() => _stopNew = true;

    /// <summary>The MaxErrors to send with the next command: what is left of the fleet's.</summary>
    public string RemainingErrorBudget() =>
        ErrorThreshold == int.MaxValue ? "100%" : Math.Max(0, ErrorThreshold - Volatile.Read(ref _errors)).ToString(CultureInfo.InvariantCulture);

    public void BatchSent()
    {
        Interlocked.Increment(ref _batchesSent);
        Progress(null, force: true);
    }

    /// <summary>Hands a node's one result to the sink; any later result for the same node and request is dropped.</summary>
    public void Report(FleetNodeResult<T> result)
    {
        Know(result.RequestIndex, result.InstanceId);
        if (!_reported.TryAdd(Key(result.RequestIndex, result.InstanceId), true))
        {
            return;
        }

        if (result.IsSuccess)
        {
            Interlocked.Increment(ref _succeeded);
        }
        else
        {
            Interlocked.Increment(ref _failed);
        }

        Sink.OnResult(result);
        Progress(result.InstanceId);
    }

    /// <summary>Every known node still without a result gets one now (the run is over).</summary>
    public void ReportLeftovers()
    {
        foreach (var node in _known.Values.OrderBy(v => v.Request).ThenBy(v => v.InstanceId, StringComparer.Ordinal))
        {
            if (Ct.IsCancellationRequested)
            {
                Report(Fail(node.Request, node.InstanceId, FleetOutcome.Cancelled, SsmErrorIds.SsmCancelled, S3MountErrorKind.OperationStopped,
                    "The operation was cancelled before this node finished; CancelCommand was sent.", null));
            }
            else
            {
                Report(Fail(node.Request, node.InstanceId, FleetOutcome.ApiError, SsmErrorIds.SsmApiError, S3MountErrorKind.InvalidOperation,
                    "SSM never reported a final status for this node.", null));
            }
        }
    }

    public void Progress(string? last, bool force = false, bool final = false)
    {
        lock (_progressGate)
        {
            var now = Clock.Elapsed;
            if (!force && !final && _lastProgress is TimeSpan last0 && now - last0 < Options.ProgressInterval)
            {
                return;
            }

            _lastProgress = now;
        }

        var delivered = Delivered;
        Sink.OnProgress(new FleetProgress
        {
            BatchesSent = BatchesSent,
            BatchesTotal = BatchesTotal,
            NodesDone = delivered,
            NodesFinished = delivered + (final ? 0 : FinishedNotDelivered()),
            NodesTotal = NodesTotal,
            LastInstanceId = last,
            Final = final,
        });
    }

    public FleetRunSummary Summary(IReadOnlyList<string> commandIds) => new()
    {
        NodesTotal = NodesTotal,
        Succeeded = Volatile.Read(ref _succeeded),
        FailedNodes = Volatile.Read(ref _failed),
        CommandIds = commandIds,
        Cancelled = Ct.IsCancellationRequested,
        MaxErrorsExceeded = _stopNew,
        Elapsed = Clock.Elapsed,
        ApiCalls = Calls.Count,
        ThrottledCalls = Calls.Throttled,
    };

    // ---------------- results ----------------
    public string? PlatformOf(string id) => Platform.TryGetValue(id, out var p) ? p : null;

    public FleetNodeResult<T> NotStarted(int request, string id, string? commandId) =>
        Fail(request, id, FleetOutcome.NotStarted, SsmErrorIds.SsmMaxErrorsExceeded, S3MountErrorKind.OperationStopped,
            "Not started: more nodes failed than -MaxErrors allows (" + (Requests[request].MaxErrors ?? "?") + ").", commandId);

    public FleetNodeResult<T> FromException(int request, string id, SsmServiceException ex, string? commandId)
    {
        var outcome = ex.ErrorId == SsmErrorIds.SsmThrottled ? FleetOutcome.Throttled
            : ex.ErrorId == SsmErrorIds.SsmInvalidInstanceId ? FleetOutcome.NotFound
            : FleetOutcome.ApiError;
        return Fail(request, id, outcome, ex.ErrorId, ex.Kind, ex.Message, commandId);
    }

    public FleetNodeResult<T> Fail(int request, string id, FleetOutcome outcome, string errorId, S3MountErrorKind kind, string message, string? commandId,
        CommandInvocation? inv = null, int? exit = null, string? stdout = null, string? stderr = null, string? source = null) => new()
    {
        InstanceId = id,
        RequestIndex = request,
        Outcome = outcome,
        ErrorId = errorId,
        ErrorKind = kind,
        ErrorMessage = message,
        CommandId = commandId,
        ExitCode = exit,
        Stdout = stdout,
        Stderr = stderr,
        OutputSource = source,
        SsmStatus = inv?.Status?.Value,
        SsmStatusDetails = inv?.CommandPlugins?.FirstOrDefault()?.StatusDetails ?? inv?.StatusDetails,
        PlatformName = PlatformOf(id),
    };
}
