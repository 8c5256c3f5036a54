using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.SimpleSystemsManagement;
using Amazon.SimpleSystemsManagement.Model;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Ssm;

namespace S3Mount.Engine.Fleet;

/// <summary>One sent command and what is known of its invocations.</summary>
internal sealed class CommandTracker
{
    private readonly Action _onDone;

    public CommandTracker(int request, string commandId, IReadOnlyList<string>? members, string? maxErrors, DateTime sentUtc, DateTime? requestedUtc, TimeSpan deadline, Action onDone)
    {
        Request = request;
        CommandId = commandId;
        Members = members;
        Open = members is null ? null : new HashSet<string>(members, StringComparer.Ordinal);
        TargetCount = members?.Count ?? 0;
        MaxErrors = maxErrors;
        SentUtc = sentUtc;
        RequestedUtc = requestedUtc;
        DeadlineUtc = sentUtc + deadline;
        _onDone = onDone;
    }

    public int Request { get; }
    public string CommandId { get; }

    /// <summary>Instance-id commands: the instances; null for target commands (SSM resolves them).</summary>
    public IReadOnlyList<string>? Members { get; }

    /// <summary>Members still without a result.</summary>
    public HashSet<string>? Open { get; }

    /// <summary>Instances whose final status has been handled.</summary>
    public HashSet<string> Finished { get; } = new(StringComparer.Ordinal);

    public int TargetCount { get; set; }
    public string? MaxErrors { get; }
    public DateTime SentUtc { get; }

    /// <summary>The service's own time of the command (the sweep filters on it).</summary>
    public DateTime? RequestedUtc { get; }

    public DateTime DeadlineUtc { get; }

    /// <summary>Failed or timed-out invocations of this command (to read a Cancelled invocation nobody asked for).</summary>
    public int Errors { get; set; }

    /// <summary>The latest CompletedCount a sweep reported, and the command status with it.</summary>
    public int SweptCompleted { get; set; }
    public string? SweptStatus { get; set; }
    public bool SeenInSweep { get; set; }

    /// <summary>When a sweep first showed finished nodes that are not fetched yet.</summary>
    public DateTime? UnfetchedSinceUtc { get; set; }

    public bool CommandTerminal { get; set; }
    public int ConsecutiveFailures { get; set; }
    public bool LastFetchFailed { get; set; }
    public int Fetches { get; set; }
    public bool CancelSent { get; set; }
    public bool Done { get; private set; }

    public void MarkDone()
    {
        if (!Done)
        {
            Done = true;
            _onDone();
        }
    }
}

/// <summary>
/// The command poller of a fleet run. With several commands in flight, one ListCommands sweep (pages of 50 commands)
/// per poll reads every command's finished count; a command's invocations (ListCommandInvocations with Details) are
/// fetched only when all its nodes finished, when finished nodes have waited <see cref="FleetRunnerOptions.ResultLatency"/>,
/// or when it passed its deadline. The poll interval shrinks with the share of nodes still running, so the last node is
/// seen soon after it finishes. Nodes that SSM never moves on get their own error at the deadline. Calls a throttle
/// hit are simply made again at the next poll.
/// </summary>
internal sealed class CommandPoller<T>
{
    private readonly FleetState<T> _s;
    private readonly ISsmClient _ssm;
    private readonly OutputFetcher<T> _fetcher;
    private readonly List<CommandTracker> _trackers = new();
    private volatile bool _sendingDone;
    private int _finishedNotDelivered;

    public CommandPoller(FleetState<T> state, ISsmClient ssm, OutputFetcher<T> fetcher)
    {
        _s = state;
        _ssm = ssm;
        _fetcher = fetcher;
        _s.FinishedNotDelivered = () => Volatile.Read(ref _finishedNotDelivered);
    }

    public void Add(CommandTracker tracker)
    {
        lock (_trackers)
        {
            _trackers.Add(tracker);
        }
    }

    public void SendingDone() => _sendingDone = true;

    public IReadOnlyList<string> CommandIds => Trackers().Select(t => t.CommandId).ToList();

    private List<CommandTracker> Trackers()
    {
        lock (_trackers)
        {
            return _trackers.ToList();
        }
    }

    public async Task RunAsync()
    {
        var o = _s.Options;
        var baseInterval = o.PollInterval;
        var minInterval = o.MinPollInterval < o.PollInterval ? o.MinPollInterval : o.PollInterval;
        var idle = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(1).Ticks, Math.Min(minInterval.Ticks, TimeSpan.FromMilliseconds(50).Ticks)));
        DateTime? nextPoll = null;
        while (true)
        {
            _s.Ct.ThrowIfCancellationRequested();
            var active = Trackers().Where(t => !t.Done).ToList();
            if (active.Count == 0)
            {
                if (_sendingDone)
                {
                    return;
                }

                nextPoll = null;
                await o.Delay(idle, _s.Ct).ConfigureAwait(false);
                continue;
            }

            var now = DateTime.UtcNow;
            // The first poll comes early: a small fleet of quick scripts is done by then.
            nextPoll ??= active.Min(t => t.SentUtc) + TimeSpan.FromTicks(baseInterval.Ticks / 2);
            if (now < nextPoll.Value)
            {
                await o.Delay(nextPoll.Value - now, _s.Ct).ConfigureAwait(false);
                continue;
            }

            var sweep = active.Count > 1 || active.Any(t => t.Members is null);
            var swept = sweep && await SweepAsync(active).ConfigureAwait(false);
            now = DateTime.UtcNow;
            var due = active.Where(t => ShouldFetch(t, sweep, swept, now)).ToList();
            await Task.WhenAll(due.Select(FetchAsync)).ConfigureAwait(false);
            UpdateFinishedCount();
            _s.Progress(null);

            baseInterval = TimeSpan.FromTicks(Math.Min(o.MaxPollInterval.Ticks, Math.Max(o.PollInterval.Ticks, (long)(baseInterval.Ticks * o.PollGrowth))));
            var interval = TimeSpan.FromTicks(Math.Max(minInterval.Ticks, (long)(baseInterval.Ticks * RunningShare())));
            if ((sweep && !swept) || due.Any(t => t.LastFetchFailed))
            {
                // A poll the throttle (or the network) lost is made again soon, not a whole interval later.
                interval = TimeSpan.FromTicks(Math.Max(minInterval.Ticks, interval.Ticks / 4));
            }

            nextPoll = DateTime.UtcNow + interval;
        }
    }

    /// <summary>The share of sent nodes that have not finished, as far as the last poll knows.</summary>
    private double RunningShare()
    {
        long sent = 0;
        long finished = 0;
        foreach (var t in Trackers())
        {
            var target = Math.Max(t.TargetCount, t.Finished.Count);
            if (target == 0)
            {
                continue;
            }

            sent += target;
            finished += t.Done ? target : Math.Min(target, Math.Max(t.Finished.Count, t.SweptCompleted));
        }

        return sent == 0 ? 1.0 : Math.Max(0.0, (double)(sent - finished) / sent);
    }

    private void UpdateFinishedCount()
    {
        var n = 0;
        foreach (var t in Trackers().Where(t => !t.Done))
        {
            n += Math.Max(0, t.SweptCompleted - t.Finished.Count);
        }

        Volatile.Write(ref _finishedNotDelivered, n);
    }

    /// <summary>One ListCommands sweep over the run's commands (pages of 50, newest first, from the first command's time on).</summary>
    private async Task<bool> SweepAsync(List<CommandTracker> active)
    {
        var byId = active.ToDictionary(t => t.CommandId, StringComparer.Ordinal);
        var since = (active.Select(t => t.RequestedUtc).Where(t => t is not null).Select(t => t!.Value.ToUniversalTime()).DefaultIfEmpty(active.Min(t => t.SentUtc)).Min()).AddSeconds(-5);
        var filters = new List<CommandFilter>
        {
            new() { Key = CommandFilterKey.InvokedAfter, Value = since.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) },
            new() { Key = CommandFilterKey.DocumentName, Value = FleetRunner.DocumentName },
        };
        var seen = 0;
        try
        {
            // A sweep of many commands is several pages: a throttled page is asked for again (from its token), or one
            // throttle in four pages would lose most sweeps of a 10,000-node fleet.
            await foreach (var page in _s.Calls.PagesAsync(
                (token, c) => _ssm.ListCommandsAsync(new ListCommandsRequest { Filters = filters, MaxResults = 50, NextToken = token }, c),
                p => p.NextToken, must: true).ConfigureAwait(false))
            {
                foreach (var cmd in page.Commands ?? new List<Command>())
                {
                    if (cmd.CommandId is null || !byId.TryGetValue(cmd.CommandId, out var t))
                    {
                        continue;
                    }

                    seen++;
                    t.SeenInSweep = true;
                    t.SweptCompleted = cmd.CompletedCount ?? 0;
                    t.SweptStatus = cmd.Status?.Value;
                    if (t.Members is null && cmd.TargetCount is int tc)
                    {
                        t.TargetCount = tc;
                    }

                    ObserveMaxErrors(t, cmd);
                }

                if (seen >= byId.Count)
                {
                    break;
                }
            }

            return true;
        }
        catch (SsmServiceException)
        {
            // A throttled or failed sweep: the next poll sweeps again.
            return false;
        }
    }

    private void ObserveMaxErrors(CommandTracker t, Command cmd)
    {
        if (t.Members is null && FleetRunner.ResolveCount(t.MaxErrors ?? "100%", cmd.TargetCount ?? 0, atLeastOne: false) is int limit && (cmd.ErrorCount ?? 0) > limit)
        {
            // SSM stopped starting targets: its Cancelled invocations are "not started", not a user cancel.
            _s.MarkMaxErrorsExceeded();
        }
    }

    private bool ShouldFetch(CommandTracker t, bool sweep, bool swept, DateTime now)
    {
        if (now >= t.DeadlineUtc)
        {
            return true;
        }

        if (!sweep)
        {
            return true;
        }

        if (!swept)
        {
            return false;
        }

        if (!t.SeenInSweep)
        {
            // Not listed yet (eventual consistency): fetch it directly once it is clearly overdue.
            return now - t.SentUtc > TimeSpan.FromTicks(_s.Options.PollInterval.Ticks * 3);
        }

        var unfetched = t.SweptCompleted - t.Finished.Count;
        if (unfetched <= 0)
        {
            return false;
        }

        t.UnfetchedSinceUtc ??= now;
        var all = t.TargetCount > 0 && t.SweptCompleted >= t.TargetCount;
        return all || SsmStatus.IsTerminal(t.SweptStatus) || now - t.UnfetchedSinceUtc.Value >= _s.Options.ResultLatency;
    }

    private async Task FetchAsync(CommandTracker t)
    {
        var invocations = new List<CommandInvocation>();
        t.Fetches++;
        try
        {
            await foreach (var page in _s.Calls.PagesAsync(
                (token, c) => _ssm.ListCommandInvocationsAsync(new ListCommandInvocationsRequest { CommandId = t.CommandId, Details = true, MaxResults = 50, NextToken = token }, c),
                p => p.NextToken, must: false).ConfigureAwait(false))
            {
                invocations.AddRange(page.CommandInvocations ?? new List<CommandInvocation>());
            }

            t.ConsecutiveFailures = 0;
            t.LastFetchFailed = false;
        }
        catch (SsmServiceException ex)
        {
            t.LastFetchFailed = true;
            // Right after SendCommand the command may not be visible yet (eventual consistency), and a throttled poll is
            // just polled again: neither counts against the command.
            var young = t.Fetches < 5 && (ex.ErrorId == SsmErrorIds.SsmInvalidCommandId || ex.ErrorId == SsmErrorIds.SsmInvocationDoesNotExist);
            if (!young && ex.ErrorId != SsmErrorIds.SsmThrottled && ++t.ConsecutiveFailures >= _s.Options.MaxConsecutivePollFailures)
            {
                foreach (var id in t.Members ?? t.Finished.ToList())
                {
                    _s.Report(_s.FromException(t.Request, id, ex, t.CommandId));
                }

                t.Open?.Clear();
                t.MarkDone();
            }

            return;
        }

        var now = DateTime.UtcNow;
        var stuck = new List<string>();
        // Failures first, so nodes SSM did not start because of MaxErrors are recognised as such.
        foreach (var inv in invocations.Where(i => i.Status?.Value != SsmStatus.Cancelled).Concat(invocations.Where(i => i.Status?.Value == SsmStatus.Cancelled)))
        {
            OnInvocation(t, inv, now, stuck);
        }

        if (t.Open is not null && now >= t.DeadlineUtc)
        {
            var listed = new HashSet<string>(invocations.Select(i => i.InstanceId ?? string.Empty), StringComparer.Ordinal);
            foreach (var id in t.Open.Where(id => !listed.Contains(id)).ToList())
            {
                Finish(t, id);
                _s.Report(_s.Fail(t.Request, id, FleetOutcome.ApiError, SsmErrorIds.SsmApiError, S3MountErrorKind.InvalidOperation,
                    "SSM never listed an invocation of the command for this node, and its deadline passed.", t.CommandId));
                stuck.Add(id);
            }
        }

        if (stuck.Count > 0)
        {
            await CancelInstancesAsync(t, stuck).ConfigureAwait(false);
        }

        t.UnfetchedSinceUtc = null;
        if (t.Members is null)
        {
            t.TargetCount = Math.Max(t.TargetCount, invocations.Count);
            t.CommandTerminal = SsmStatus.IsTerminal(t.SweptStatus) || (invocations.Count > 0 && invocations.All(i => SsmStatus.IsTerminal(i.Status?.Value)) && t.SweptCompleted >= t.TargetCount && t.TargetCount > 0);
            if ((t.CommandTerminal && t.Finished.Count >= t.TargetCount) || now >= t.DeadlineUtc)
            {
                t.MarkDone();
            }
        }
        else if (t.Open!.Count == 0)
        {
            t.MarkDone();
        }
    }

    private void Finish(CommandTracker t, string id)
    {
        t.Finished.Add(id);
        t.Open?.Remove(id);
    }

    private void OnInvocation(CommandTracker t, CommandInvocation inv, DateTime now, List<string> stuck)
    {
        var id = inv.InstanceId ?? string.Empty;
        if (t.Members is null)
        {
            // Target commands: an instance becomes known when its invocation appears.
            _s.Know(t.Request, id);
        }
        else if (!t.Open!.Contains(id))
        {
            return; // handled already, or not one of ours
        }

        if (t.Finished.Contains(id))
        {
            return;
        }

        var status = inv.Status?.Value;
        if (!SsmStatus.IsTerminal(status))
        {
            if (now >= t.DeadlineUtc)
            {
                Finish(t, id);
                stuck.Add(id);
                if (status == SsmStatus.InProgress)
                {
                    _s.CountError();
                    t.Errors++;
                    _s.Report(_s.Fail(t.Request, id, FleetOutcome.ExecutionTimedOut, SsmErrorIds.SsmCommandTimedOut, S3MountErrorKind.OperationTimeout,
                        "SSM still shows the script InProgress after the delivery and execution timeouts: the node's agent stopped reporting (it died, or the node stopped). CancelCommand was sent.", t.CommandId, inv));
                }
                else
                {
                    _s.Report(_s.Fail(t.Request, id, FleetOutcome.DeliveryTimedOut, SsmErrorIds.SsmDeliveryTimedOut, S3MountErrorKind.OperationTimeout,
                        "SSM still shows the command " + (status ?? "Pending") + " after the delivery timeout (-TimeoutSeconds): it never reached the node. CancelCommand was sent.", t.CommandId, inv));
                }
            }

            return;
        }

        Finish(t, id);
        var plugin = inv.CommandPlugins?.FirstOrDefault();
        var details = plugin?.StatusDetails ?? inv.StatusDetails;
        var cid = t.CommandId;
        if (details == SsmStatus.DetailUndeliverable || inv.StatusDetails == SsmStatus.DetailUndeliverable)
        {
            _s.Report(_s.Fail(t.Request, id, FleetOutcome.Undeliverable, SsmErrorIds.SsmUndeliverable, S3MountErrorKind.ResourceUnavailable,
                "SSM could not deliver the command: the node is stopped or terminated, its agent is not running, or it cannot reach SSM.", cid, inv));
            return;
        }

        if (details == SsmStatus.DetailDeliveryTimedOut || inv.StatusDetails == SsmStatus.DetailDeliveryTimedOut)
        {
            _s.Report(_s.Fail(t.Request, id, FleetOutcome.DeliveryTimedOut, SsmErrorIds.SsmDeliveryTimedOut, S3MountErrorKind.OperationTimeout,
                "The command was not delivered before the delivery timeout (-TimeoutSeconds) expired; the node's agent may be offline.", cid, inv));
            return;
        }

        if (details == SsmStatus.DetailTerminated || inv.StatusDetails == SsmStatus.DetailTerminated)
        {
            _s.Report(_s.NotStarted(t.Request, id, cid));
            return;
        }

        if (status == SsmStatus.Cancelled)
        {
            if (_s.Ct.IsCancellationRequested || t.CancelSent)
            {
                _s.Report(_s.Fail(t.Request, id, FleetOutcome.Cancelled, SsmErrorIds.SsmCancelled, S3MountErrorKind.OperationStopped, "The command was cancelled on this node.", cid, inv));
            }
            else if (_s.StopNew || (FleetRunner.ResolveCount(t.MaxErrors ?? "100%", Math.Max(t.TargetCount, t.Finished.Count), atLeastOne: false) is int limit && t.Errors > limit))
            {
                // Nobody here cancelled it: SSM stopped starting targets because errors exceeded MaxErrors.
                _s.Report(_s.NotStarted(t.Request, id, cid));
            }
            else
            {
                _s.Report(_s.Fail(t.Request, id, FleetOutcome.Cancelled, SsmErrorIds.SsmCancelled, S3MountErrorKind.OperationStopped,
                    "The command was cancelled on this node by someone else (CancelCommand from another session, or the console).", cid, inv));
            }

            return;
        }

        if (status != SsmStatus.Success)
        {
            _s.CountError();
            t.Errors++;
        }

        if (status == SsmStatus.TimedOut || details == SsmStatus.DetailExecutionTimedOut)
        {
            var (so, se) = FleetRunner.SplitPluginOutput(plugin?.Output);
            _s.Report(_s.Fail(t.Request, id, FleetOutcome.ExecutionTimedOut, SsmErrorIds.SsmCommandTimedOut, S3MountErrorKind.OperationTimeout,
                "The script did not finish within the execution timeout and was stopped.", cid, inv, plugin?.ResponseCode, so, se));
            return;
        }

        _fetcher.Finish(t, inv, plugin);
    }

    private async Task CancelInstancesAsync(CommandTracker t, List<string> ids)
    {
        using var grace = new CancellationTokenSource(_s.Options.CancelGrace);
        try
        {
            for (var i = 0; i < ids.Count; i += 50)
            {
                var chunk = ids.Skip(i).Take(50).ToList();
                await _s.Calls.OnceAsync(async c =>
                {
                    await _ssm.CancelCommandAsync(new CancelCommandRequest { CommandId = t.CommandId, InstanceIds = chunk }, c).ConfigureAwait(false);
                    return true;
                }, grace.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SsmServiceException || e is OperationCanceledException)
        {
            // Best effort: SSM's own timeouts end what could not be cancelled.
        }
    }

    public Task CancelOutstandingAsync() => CancelAsync(Trackers().Where(t => !t.Done && !t.CancelSent).ToList());

    public async Task CancelAsync(IReadOnlyList<CommandTracker> open)
    {
        using var grace = new CancellationTokenSource(_s.Options.CancelGrace);
        foreach (var t in open)
        {
            t.CancelSent = true;
        }

        await Task.WhenAll(open.Select(async t =>
        {
            for (var attempt = 1; attempt <= 3 && !grace.IsCancellationRequested; attempt++)
            {
                try
                {
                    // Not through the run's call budget: the run's token is cancelled already.
                    await _ssm.CancelCommandAsync(new CancelCommandRequest { CommandId = t.CommandId }, grace.Token).ConfigureAwait(false);
                    return;
                }
                catch (SsmThrottledException)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt)).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Best effort: the caller is leaving; SSM's own timeouts end what we could not cancel.
                    return;
                }
            }
        })).ConfigureAwait(false);
    }
}
