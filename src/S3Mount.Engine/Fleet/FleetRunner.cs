using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;

namespace S3Mount.Engine.Fleet;

/// <summary>
/// Runs one script on many nodes through SSM Run Command: preflight with DescribeInstanceInformation, batches of at most
/// 50 instance ids per SendCommand (one SendCommand per batch, several in flight), paced ListCommandInvocations polling,
/// output fallbacks (GetCommandInvocation, then the S3 output bucket), and exactly one result per node, streamed as nodes finish.
/// </summary>
public sealed class FleetRunner
{
    public const string DocumentName = "AWS-RunShellScript";
    public const string ErrorSeparator = "----------ERROR-------";

    /// <summary>ListCommandInvocations (Details) cuts plugin output here.</summary>
    public const int DetailsOutputLimit = 2500;

    /// <summary>GetCommandInvocation cuts standard output here.</summary>
    public const int StdoutLimit = 24000;
    private static readonly Regex InstanceIdPattern = new("(^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)", RegexOptions.CultureInvariant);
    private static readonly Regex CountOrPercent = new("^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$", RegexOptions.CultureInvariant);
    private static readonly Regex ErrorIdWord = new("^[A-Za-z][A-Za-z0-9]{0,127}$", RegexOptions.CultureInvariant);

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
    /// Starts the run on worker tasks and returns at once; drain <see cref="FleetRun{T}.GetConsumingEnumerable"/> on the
    /// caller's thread (WriteObject/WriteError/WriteProgress there), then await <see cref="FleetRun{T}.Completion"/>.
    /// </summary>
    public FleetRun<T> Start<T>(FleetRunRequest request, Func<FleetNodeOutput, T> parse, CancellationToken cancellationToken)
    {
        Validate(request);
        var run = new FleetRun<T>();
        run.Completion = Task.Run(async () =>
        {
            try
            {
                return await RunAsync(request, parse, run, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                run.Complete();
            }
        });
        return run;
    }

    /// <summary>Runs to the end, handing every node's result to <paramref name="sink"/> as it finishes (from worker threads).</summary>
    public Task<FleetRunSummary> RunAsync<T>(FleetRunRequest request, Func<FleetNodeOutput, T> parse, IFleetSink<T> sink, CancellationToken cancellationToken)
    {
        Validate(request);
        return new RunState<T>(this, request, parse, sink, cancellationToken).RunAsync();
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

    private sealed class CommandTracker
    {
        public CommandTracker(string commandId, IReadOnlyList<string>? instanceIds)
        {
            CommandId = commandId;
            if (instanceIds is not null)
            {
                Pending = new HashSet<string>(instanceIds, StringComparer.Ordinal);
                Members = instanceIds;
            }
        }

        public string CommandId { get; }

        /// <summary>Ids still without a terminal status (instance-id runs); null for target runs.</summary>
        public HashSet<string>? Pending { get; }

        public IReadOnlyList<string>? Members { get; }

        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);

        public DateTime NextPollUtc { get; set; }

        public TimeSpan Interval { get; set; }

        public int Polls { get; set; }

        public int ConsecutiveFailures { get; set; }

        public bool Done { get; set; }

        public bool CancelSent { get; set; }

        public bool CommandTerminal { get; set; }

        public int TargetCount { get; set; }
    }

    private sealed class RunState<T>
    {
        private readonly FleetRunner _owner;
        private readonly FleetRunRequest _req;
        private readonly Func<FleetNodeOutput, T> _parse;
        private readonly IFleetSink<T> _sink;
        private readonly CancellationToken _ct;
        private readonly FleetRunnerOptions _o;
        private readonly ConcurrentDictionary<string, bool> _reported = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, string?> _platform = new(StringComparer.Ordinal);
        private readonly List<CommandTracker> _trackers = new();
        private readonly ConcurrentBag<Task> _finalizers = new();
        private readonly SemaphoreSlim _calls;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly HashSet<string> _known = new(StringComparer.Ordinal);
        private int _succeeded;
        private int _failed;
        private int _errors;
        private int _errorThreshold = int.MaxValue;
        private volatile bool _stopNew;
        private int _batchesSent;
        private int _batchesTotal;
        private int _nodesTotal;
        private volatile bool _sendingDone;

        public RunState(FleetRunner owner, FleetRunRequest req, Func<FleetNodeOutput, T> parse, IFleetSink<T> sink, CancellationToken ct)
        {
            _owner = owner;
            _req = req;
            _parse = parse;
            _sink = sink;
            _ct = ct;
            _o = owner._options;
            _calls = new SemaphoreSlim(Math.Max(1, _o.MaxParallelCalls));
        }

        private ISsmClient Ssm => _owner._ssm;

        public async Task<FleetRunSummary> RunAsync()
        {
            var unsent = new List<string>();
            try
            {
                if (_req.Targets.Count > 0)
                {
                    await RunTargetsAsync().ConfigureAwait(false);
                }
                else
                {
                    await RunInstancesAsync(unsent).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (_ct.IsCancellationRequested)
            {
            }

            if (_ct.IsCancellationRequested)
            {
                await CancelOutstandingAsync().ConfigureAwait(false);
            }

            // Whatever is still without a result gets one now: exactly one per node.
            await WaitFinalizersAsync().ConfigureAwait(false);
            List<string> all;
            lock (_known)
            {
                all = _known.ToList();
            }

            foreach (var id in all)
            {
                if (_ct.IsCancellationRequested)
                {
                    Report(Fail(id, FleetOutcome.Cancelled, SsmErrorIds.SsmCancelled, S3MountErrorKind.OperationStopped, "The operation was cancelled before this node finished; CancelCommand was sent.", null));
                }
                else
                {
                    Report(Fail(id, FleetOutcome.ApiError, SsmErrorIds.SsmApiError, S3MountErrorKind.InvalidOperation, "SSM never reported a final status for this node.", null));
                }
            }

            return new FleetRunSummary
            {
                NodesTotal = _nodesTotal,
                Succeeded = Volatile.Read(ref _succeeded),
                FailedNodes = Volatile.Read(ref _failed),
                CommandIds = Trackers().Select(t => t.CommandId).ToList(),
                Cancelled = _ct.IsCancellationRequested,
                MaxErrorsExceeded = _stopNew,
                Elapsed = _clock.Elapsed,
            };
        }

        private List<CommandTracker> Trackers()
        {
            lock (_trackers)
            {
                return _trackers.ToList();
            }
        }

        private void Know(string id)
        {
            lock (_known)
            {
                if (_known.Add(id))
                {
                    _nodesTotal = _known.Count;
                }
            }
        }

        // ---------------- instance-id runs ----------------
        private async Task RunInstancesAsync(List<string> unsent)
        {
            var ids = new List<string>();
            foreach (var raw in _req.InstanceIds)
            {
                var id = raw?.Trim() ?? string.Empty;
                lock (_known)
                {
                    if (_known.Contains(id))
                    {
                        continue;
                    }
                }

                Know(id);
                if (!InstanceIdPattern.IsMatch(id))
                {
                    Report(Fail(id, FleetOutcome.NotFound, SsmErrorIds.SsmInvalidInstanceId, S3MountErrorKind.InvalidArgument,
                        "'" + id + "' is not an instance id (i-xxxxxxxxxxxxxxxxx or mi-xxxxxxxxxxxxxxxxx).", null));
                    continue;
                }

                ids.Add(id);
            }

            var eligible = _o.Preflight ? await PreflightAsync(ids).ConfigureAwait(false) : ids;
            var total = _known.Count;
            var maxConc = ResolveCount(_req.MaxConcurrency, total, atLeastOne: true);
            var maxErr = ResolveCount(_req.MaxErrors, total, atLeastOne: false);
            if (maxErr is int me)
            {
                _errorThreshold = me;
            }

            var batchSize = Math.Max(1, Math.Min(50, _o.BatchSize));
            var batches = new List<IReadOnlyList<string>>();
            for (var i = 0; i < eligible.Count; i += batchSize)
            {
                batches.Add(eligible.Skip(i).Take(batchSize).ToList());
            }

            _batchesTotal = batches.Count;
            var perCommand = maxConc is int mc ? Math.Min(mc, batchSize) : batchSize;
            var inFlight = maxConc is int mc2 ? Math.Max(1, Math.Min(_o.MaxCommandsInFlight, mc2 / batchSize)) : Math.Max(1, _o.MaxCommandsInFlight);
            Progress(null);

            using var slots = new SemaphoreSlim(inFlight);
            var poller = PollLoopAsync(slots);
            var sends = new List<Task>();
            try
            {
                foreach (var batch in batches)
                {
                    await slots.WaitAsync(_ct).ConfigureAwait(false);
                    if (_stopNew)
                    {
                        slots.Release();
                        foreach (var id in batch)
                        {
                            Report(NotStarted(id, null));
                        }

                        continue;
                    }

                    // Sends overlap (bounded by MaxParallelCalls): with real API latency, serial sends would delay the last batch.
                    sends.Add(Task.Run(async () =>
                    {
                        if (!await SendBatchAsync(batch, perCommand).ConfigureAwait(false))
                        {
                            slots.Release();
                        }
                    }));
                }
            }
            finally
            {
                var allSends = Task.WhenAll(sends);
                try
                {
                    if (_ct.IsCancellationRequested)
                    {
                        // Sends on the wire finish (and cancel their own command); do not wait for them for long.
                        await Task.WhenAny(allSends, Task.Delay(_o.CancelGrace)).ConfigureAwait(false);
                    }
                    else
                    {
                        await allSends.ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (_ct.IsCancellationRequested)
                {
                }

                _sendingDone = true;
                try
                {
                    await poller.ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_ct.IsCancellationRequested)
                {
                }
            }
        }

        private async Task<List<string>> PreflightAsync(List<string> ids)
        {
            var found = new ConcurrentDictionary<string, SsmInstanceInformation>(StringComparer.Ordinal);
            var chunks = new List<List<string>>();
            for (var i = 0; i < ids.Count; i += 50)
            {
                chunks.Add(ids.Skip(i).Take(50).ToList());
            }

            var failedChunks = new ConcurrentDictionary<int, SsmServiceException>();
            await Task.WhenAll(chunks.Select(async (chunk, index) =>
            {
                try
                {
                    string? token = null;
                    do
                    {
                        var page = await CallAsync(c => Ssm.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest
                        {
                            Filters = new[] { new SsmInstanceInformationStringFilter("InstanceIds", chunk) },
                            MaxResults = 50,
                            NextToken = token,
                        }, c)).ConfigureAwait(false);
                        foreach (var info in page.InstanceInformationList)
                        {
                            found[info.InstanceId] = info;
                        }

                        token = page.NextToken;
                    }
                    while (!string.IsNullOrEmpty(token));
                }
                catch (Exception raw) when (raw is not OperationCanceledException)
                {
                    failedChunks[index] = AsServiceException(raw);
                }
            })).ConfigureAwait(false);

            var eligible = new List<string>();
            for (var ci = 0; ci < chunks.Count; ci++)
            {
                foreach (var id in chunks[ci])
                {
                    if (failedChunks.TryGetValue(ci, out var ex))
                    {
                        Report(FromException(id, ex, null));
                        continue;
                    }

                    if (!found.TryGetValue(id, out var info))
                    {
                        Report(Fail(id, FleetOutcome.NotFound, SsmErrorIds.SsmInstanceNotFound, S3MountErrorKind.ObjectNotFound,
                            "SSM does not manage this instance: it does not exist in this account and region, or its SSM agent never registered (check the instance profile and the agent).", null));
                        continue;
                    }

                    _platform[id] = info.PlatformName;
                    if (!string.Equals(info.PingStatus, "Online", StringComparison.Ordinal))
                    {
                        Report(Fail(id, FleetOutcome.AgentOffline, SsmErrorIds.SsmAgentOffline, S3MountErrorKind.ResourceUnavailable,
                            "The node's SSM agent is " + (info.PingStatus ?? "unknown") + ", not Online" +
                            (info.LastPingDateTime is DateTimeOffset lp ? " (last ping " + lp.ToString("u", CultureInfo.InvariantCulture) + ")" : string.Empty) + "; skipped.", null));
                        continue;
                    }

                    if (!string.Equals(info.PlatformType, "Linux", StringComparison.Ordinal))
                    {
                        Report(Fail(id, FleetOutcome.NotLinux, SsmErrorIds.SsmNotLinux, S3MountErrorKind.InvalidOperation,
                            "The node runs " + (info.PlatformType ?? "an unknown platform") + (info.PlatformName is null ? string.Empty : " (" + info.PlatformName + ")") + "; Mountpoint for Amazon S3 needs Linux. Skipped.", null));
                        continue;
                    }

                    eligible.Add(id);
                }
            }

            return eligible;
        }

        private SendCommandRequest BuildSend(IReadOnlyList<string>? ids, IReadOnlyList<SsmTarget>? targets, string maxConcurrency, string maxErrors)
        {
            var parameters = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
            {
                ["commands"] = ScriptEncoding.ToCommands(_req.Script),
            };
            if (_req.ExecutionTimeoutSeconds is int et)
            {
                parameters["executionTimeout"] = new[] { et.ToString(CultureInfo.InvariantCulture) };
            }

            if (!string.IsNullOrEmpty(_req.WorkingDirectory))
            {
                parameters["workingDirectory"] = new[] { _req.WorkingDirectory! };
            }

            return new SendCommandRequest
            {
                DocumentName = DocumentName,
                InstanceIds = ids,
                Targets = targets,
                Parameters = parameters,
                TimeoutSeconds = _req.DeliveryTimeoutSeconds,
                Comment = _req.Comment,
                OutputS3BucketName = _req.OutputS3BucketName,
                OutputS3KeyPrefix = _req.OutputS3BucketName is null ? null : _req.OutputS3KeyPrefix,
                OutputS3Region = _req.OutputS3BucketName is null ? null : _req.OutputS3Region,
                MaxConcurrency = maxConcurrency,
                MaxErrors = maxErrors,
                CloudWatchLogGroupName = _req.CloudWatchLogGroupName,
            };
        }

        private string BatchMaxErrors()
        {
            if (_errorThreshold == int.MaxValue)
            {
                return "100%";
            }

            var left = Math.Max(0, _errorThreshold - Volatile.Read(ref _errors));
            return left.ToString(CultureInfo.InvariantCulture);
        }

        private async Task<bool> SendBatchAsync(IReadOnlyList<string> batch, int perCommand)
        {
            SsmCommand cmd;
            try
            {
                var request = BuildSend(batch, null, perCommand.ToString(CultureInfo.InvariantCulture), BatchMaxErrors());
                cmd = await SendUncancelledAsync(request).ConfigureAwait(false);
            }
            catch (Exception raw) when (raw is not OperationCanceledException)
            {
                var ex = AsServiceException(raw);
                foreach (var id in batch)
                {
                    Report(FromException(id, ex, null));
                }

                return false;
            }

            var tracker = new CommandTracker(cmd.CommandId, batch)
            {
                Interval = _o.PollInterval,
                NextPollUtc = DateTime.UtcNow + _o.PollInterval,
            };
            lock (_trackers)
            {
                _trackers.Add(tracker);
            }

            Interlocked.Increment(ref _batchesSent);
            Progress(null);
            if (_ct.IsCancellationRequested)
            {
                // Cancelled while this command was being created: cancel it too, so nothing runs unobserved.
                await CancelCommandsAsync(new[] { tracker }).ConfigureAwait(false);
            }

            return true;
        }

        /// <summary>
        /// Once a SendCommand is on the wire it is not abandoned: SSM may create the command anyway, and only its id lets
        /// us cancel it. Cancellation is checked before sending and between throttling rounds.
        /// </summary>
        private Task<SsmCommand> SendUncancelledAsync(SendCommandRequest request) =>
            CallAsync(_ => Ssm.SendCommandAsync(request, CancellationToken.None));

        // ---------------- target runs ----------------
        private async Task RunTargetsAsync()
        {
            _batchesTotal = 1;
            Progress(null);
            SsmCommand cmd;
            var request = BuildSend(null, _req.Targets, _req.MaxConcurrency ?? "50", _req.MaxErrors ?? "100%");
            cmd = await SendUncancelledAsync(request).ConfigureAwait(false);
            var tracker = new CommandTracker(cmd.CommandId, null)
            {
                Interval = _o.PollInterval,
                NextPollUtc = DateTime.UtcNow + _o.PollInterval,
            };
            lock (_trackers)
            {
                _trackers.Add(tracker);
            }

            _batchesSent = 1;
            _sendingDone = true;
            using var slots = new SemaphoreSlim(1);
            await PollLoopAsync(slots).ConfigureAwait(false);
        }

        // ---------------- polling ----------------
        private async Task PollLoopAsync(SemaphoreSlim slots)
        {
            var tick = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(1).Ticks, Math.Min(_o.PollInterval.Ticks / 5, TimeSpan.FromMilliseconds(200).Ticks)));
            while (true)
            {
                _ct.ThrowIfCancellationRequested();
                var active = Trackers().Where(t => !t.Done).ToList();
                if (active.Count == 0 && _sendingDone)
                {
                    return;
                }

                var now = DateTime.UtcNow;
                var due = active.Where(t => t.NextPollUtc <= now).ToList();
                if (due.Count == 0)
                {
                    await _o.Delay(tick, _ct).ConfigureAwait(false);
                    continue;
                }

                await Task.WhenAll(due.Select(PollOneAsync)).ConfigureAwait(false);
                foreach (var t in due)
                {
                    t.Polls++;
                    t.Interval = TimeSpan.FromTicks(Math.Min(_o.MaxPollInterval.Ticks, (long)(t.Interval.Ticks * _o.PollGrowth)));
                    t.NextPollUtc = DateTime.UtcNow + t.Interval;
                    if (t.Done)
                    {
                        slots.Release();
                    }
                }
            }
        }

        private async Task PollOneAsync(CommandTracker t)
        {
            try
            {
                if (t.Pending is null)
                {
                    var list = await CallOnceAsync(c => Ssm.ListCommandsAsync(new ListCommandsRequest { CommandId = t.CommandId }, c)).ConfigureAwait(false);
                    var cmd = list.Commands.FirstOrDefault();
                    if (cmd is not null)
                    {
                        t.CommandTerminal = SsmStatus.IsTerminal(cmd.Status);
                        t.TargetCount = cmd.TargetCount;
                        if (ResolveCount(_req.MaxErrors ?? "100%", cmd.TargetCount, atLeastOne: false) is int limit && cmd.ErrorCount > limit)
                        {
                            // SSM stopped starting targets: its Cancelled invocations are "not started", not a user cancel.
                            _stopNew = true;
                        }
                        if (cmd.TargetCount > 0)
                        {
                            _batchesTotal = 1;
                        }
                    }
                }

                string? token = null;
                var seen = new List<SsmCommandInvocation>();
                do
                {
                    var page = await CallOnceAsync(c => Ssm.ListCommandInvocationsAsync(new ListCommandInvocationsRequest
                    {
                        CommandId = t.CommandId,
                        Details = true,
                        MaxResults = 50,
                        NextToken = token,
                    }, c)).ConfigureAwait(false);
                    seen.AddRange(page.CommandInvocations);
                    token = page.NextToken;
                }
                while (!string.IsNullOrEmpty(token));

                // Failures first, so nodes SSM did not start because of MaxErrors are recognised as such.
                foreach (var inv in seen.Where(i => i.Status != SsmStatus.Cancelled).Concat(seen.Where(i => i.Status == SsmStatus.Cancelled)))
                {
                    OnInvocation(t, inv);
                }

                t.ConsecutiveFailures = 0;
            }
            catch (Exception raw) when (raw is not OperationCanceledException)
            {
                var ex = AsServiceException(raw);
                // Right after SendCommand the command may not be visible yet (eventual consistency): not a failure.
                var young = t.Polls < 5 && (ex.ErrorId == SsmErrorIds.SsmInvalidCommandId || ex.ErrorId == SsmErrorIds.SsmInvocationDoesNotExist);
                if (!young && ++t.ConsecutiveFailures >= _o.MaxConsecutivePollFailures)
                {
                    foreach (var id in t.Members ?? t.Seen.ToList())
                    {
                        Report(FromException(id, ex, t.CommandId));
                    }

                    t.Pending?.Clear();
                    t.Done = true;
                    return;
                }
            }

            t.Done = t.Pending is not null
                ? t.Pending.Count == 0
                : t.CommandTerminal && t.Seen.Count >= t.TargetCount;
        }

        private void OnInvocation(CommandTracker t, SsmCommandInvocation inv)
        {
            if (t.Pending is null)
            {
                if (!t.Seen.Contains(inv.InstanceId))
                {
                    Know(inv.InstanceId);
                }
            }

            if (!SsmStatus.IsTerminal(inv.Status))
            {
                return;
            }

            if (t.Pending is not null ? !t.Pending.Remove(inv.InstanceId) : !t.Seen.Add(inv.InstanceId))
            {
                return;
            }

            if (t.Pending is null)
            {
                // Target runs: the instance becomes known when its invocation appears.
                Know(inv.InstanceId);
            }

            var plugin = inv.CommandPlugins.FirstOrDefault();
            var details = plugin?.StatusDetails ?? inv.StatusDetails;
            var id = inv.InstanceId;
            var cid = t.CommandId;
            if (details == SsmStatus.DetailUndeliverable || inv.StatusDetails == SsmStatus.DetailUndeliverable)
            {
                Report(Fail(id, FleetOutcome.Undeliverable, SsmErrorIds.SsmUndeliverable, S3MountErrorKind.ResourceUnavailable,
                    "SSM could not deliver the command: the node is stopped or terminated, its agent is not running, or it cannot reach SSM.", cid, inv));
                return;
            }

            if (details == SsmStatus.DetailDeliveryTimedOut || inv.StatusDetails == SsmStatus.DetailDeliveryTimedOut)
            {
                Report(Fail(id, FleetOutcome.DeliveryTimedOut, SsmErrorIds.SsmDeliveryTimedOut, S3MountErrorKind.OperationTimeout,
                    "The command was not delivered before the delivery timeout (-TimeoutSeconds) expired; the node's agent may be offline.", cid, inv));
                return;
            }

            if (inv.Status == SsmStatus.Cancelled)
            {
                Report(_stopNew && !_ct.IsCancellationRequested
                    ? NotStarted(id, cid)
                    : Fail(id, FleetOutcome.Cancelled, SsmErrorIds.SsmCancelled, S3MountErrorKind.OperationStopped, "The command was cancelled on this node.", cid, inv));
                return;
            }

            if (inv.Status != SsmStatus.Success)
            {
                CountError();
            }

            if (inv.Status == SsmStatus.TimedOut || details == SsmStatus.DetailExecutionTimedOut)
            {
                var (so, se) = SplitPluginOutput(plugin?.Output);
                Report(Fail(id, FleetOutcome.ExecutionTimedOut, SsmErrorIds.SsmCommandTimedOut, S3MountErrorKind.OperationTimeout,
                    "The script did not finish within the execution timeout and was stopped.", cid, inv, plugin?.ResponseCode, so, se));
                return;
            }

            var task = Task.Run(() => FinalizeAsync(t, inv, plugin));
            _finalizers.Add(task);
        }

        private void CountError()
        {
            if (Interlocked.Increment(ref _errors) > _errorThreshold)
            {
                _stopNew = true;
            }
        }

        private async Task FinalizeAsync(CommandTracker t, SsmCommandInvocation inv, SsmCommandPlugin? plugin)
        {
            var id = inv.InstanceId;
            try
            {
                var (stdout, stderr) = SplitPluginOutput(plugin?.Output);
                var source = "ListCommandInvocations";
                var exit = plugin?.ResponseCode ?? -1;
                if (!ResultBlock.IsComplete(stdout))
                {
                    var full = await GetInvocationAsync(t.CommandId, id).ConfigureAwait(false);
                    if (full is not null)
                    {
                        stdout = full.StandardOutputContent ?? string.Empty;
                        stderr = full.StandardErrorContent ?? stderr;
                        exit = full.ResponseCode;
                        source = "GetCommandInvocation";
                    }

                    var bucket = plugin?.OutputS3BucketName ?? _req.OutputS3BucketName;
                    if (!ResultBlock.IsComplete(stdout) && !string.IsNullOrEmpty(bucket) && _owner._outputReader is not null)
                    {
                        var prefix = plugin?.OutputS3KeyPrefix ?? _req.OutputS3KeyPrefix;
                        var region = plugin?.OutputS3Region ?? _req.OutputS3Region;
                        try
                        {
                            var s3out = await _owner._outputReader.ReadTextAsync(bucket!, S3OutputReader.OutputKey(prefix, t.CommandId, id, "stdout"), region, _ct).ConfigureAwait(false);
                            if (s3out is not null)
                            {
                                stdout = s3out;
                                source = "S3";
                                var s3err = await _owner._outputReader.ReadTextAsync(bucket!, S3OutputReader.OutputKey(prefix, t.CommandId, id, "stderr"), region, _ct).ConfigureAwait(false);
                                stderr = s3err ?? stderr;
                            }
                        }
                        catch (Exception ex) when (ex is not OperationCanceledException)
                        {
                            Report(Fail(id, FleetOutcome.OutputTruncated, SsmErrorIds.SsmOutputReadFailed, S3MountErrorKind.ResourceUnavailable,
                                "The output was cut short and reading the full copy from s3://" + bucket + " failed: " + ex.Message, t.CommandId, inv, exit, stdout, stderr));
                            return;
                        }
                    }
                }

                // Cut short: the service's limit was reached, or a result block began and never ended.
                var cut = source switch
                {
                    "ListCommandInvocations" => (plugin?.Output?.Length ?? 0) >= DetailsOutputLimit,
                    "GetCommandInvocation" => stdout.Length >= StdoutLimit,
                    _ => false,
                };
                if (!ResultBlock.IsComplete(stdout) && (cut || stdout.Contains(ResultBlock.BeginMarker + " ")))
                {
                    var bucket = _req.OutputS3BucketName;
                    Report(Fail(id, FleetOutcome.OutputTruncated, SsmErrorIds.S3MountResultTruncated, S3MountErrorKind.InvalidData,
                        string.IsNullOrEmpty(bucket)
                            ? "The node's output was cut short by SSM (2,500/24,000 characters) before its result ended. Set -OutputS3BucketName so the full output can be read from S3."
                            : "The node's output was cut short and the full copy was not found in s3://" + bucket + ".",
                        t.CommandId, inv, exit, stdout, stderr));
                    return;
                }

                var output = new FleetNodeOutput { InstanceId = id, CommandId = t.CommandId, ExitCode = exit, Stdout = stdout, Stderr = stderr, OutputSource = source };
                if (inv.Status == SsmStatus.Success && exit == 0)
                {
                    T value;
                    try
                    {
                        value = _owner.Parse(_parse, output);
                    }
                    catch (S3MountException ex)
                    {
                        Report(Fail(id, FleetOutcome.Failed, ex.ErrorId, ex.Kind, ex.Message, t.CommandId, inv, exit, stdout, stderr, source));
                        return;
                    }
                    catch (Exception ex)
                    {
                        Report(Fail(id, FleetOutcome.Failed, SsmErrorIds.S3MountResultInvalid, S3MountErrorKind.InvalidData, "The node's result could not be read: " + ex.Message, t.CommandId, inv, exit, stdout, stderr, source));
                        return;
                    }

                    Report(new FleetNodeResult<T>
                    {
                        InstanceId = id, Outcome = FleetOutcome.Succeeded, CommandId = t.CommandId, ExitCode = exit,
                        Stdout = stdout, Stderr = stderr, OutputSource = source, Value = value,
                        SsmStatus = inv.Status, SsmStatusDetails = plugin?.StatusDetails ?? inv.StatusDetails, PlatformName = PlatformOf(id),
                    });
                    return;
                }

                string errorId = SsmErrorIds.SsmCommandFailed;
                var kind = S3MountErrorKind.InvalidOperation;
                string message;
                if (ResultBlock.TryParse(stdout, out var block) && Node.NodeResultParser.ErrorOf(block!, id) is { } scriptError && ErrorIdWord.IsMatch(scriptError.ErrorId))
                {
                    errorId = scriptError.ErrorId;
                    kind = scriptError.Kind;
                    message = scriptError.Message;
                }
                else if (exit == -1)
                {
                    message = "The script never started on the node (" + (plugin?.StatusDetails ?? inv.StatusDetails ?? "Failed") + ").";
                }
                else
                {
                    var last = stderr.Split(new[] { '\n' }, StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
                    message = "The script exited with code " + exit.ToString(CultureInfo.InvariantCulture) + (last is null ? "." : ": " + last.Trim());
                }

                Report(Fail(id, FleetOutcome.Failed, errorId, kind, message, t.CommandId, inv, exit, stdout, stderr, source));
            }
            catch (OperationCanceledException) when (_ct.IsCancellationRequested)
            {
                // The final sweep reports it as cancelled.
            }
            catch (Exception raw) when (raw is not OperationCanceledException)
            {
                Report(FromException(id, AsServiceException(raw), t.CommandId));
            }
        }

        private static SsmServiceException AsServiceException(Exception raw) =>
            raw as SsmServiceException ?? new SsmServiceException(SsmErrorIds.SsmApiError, S3MountErrorKind.InvalidData, "Talking to SSM failed: " + raw.Message, raw.GetType().Name, null, null, null, raw);

        private async Task<GetCommandInvocationResponse?> GetInvocationAsync(string commandId, string instanceId)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    return await CallAsync(c => Ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = commandId, InstanceId = instanceId }, c)).ConfigureAwait(false);
                }
                catch (SsmInvocationDoesNotExistException) when (attempt < _o.InvocationDoesNotExistRetries)
                {
                    await _o.Delay(_o.PollInterval, _ct).ConfigureAwait(false);
                }
                catch (SsmInvocationDoesNotExistException)
                {
                    return null;
                }
            }
        }

        private Task CancelOutstandingAsync() => CancelCommandsAsync(Trackers().Where(t => !t.Done && !t.CancelSent).ToList());

        private async Task CancelCommandsAsync(IReadOnlyList<CommandTracker> open)
        {
            using var grace = new CancellationTokenSource(_o.CancelGrace);
            foreach (var t in open)
            {
                t.CancelSent = true;
            }

            await Task.WhenAll(open.Select(async t =>
            {
                try
                {
                    await Ssm.CancelCommandAsync(new CancelCommandRequest { CommandId = t.CommandId }, grace.Token).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Best effort: the caller is leaving; SSM's own timeouts end what we could not cancel.
                }
            })).ConfigureAwait(false);
        }

        private async Task WaitFinalizersAsync()
        {
            var all = Task.WhenAll(_finalizers.ToArray());
            if (_ct.IsCancellationRequested)
            {
                await Task.WhenAny(all, Task.Delay(_o.CancelGrace)).ConfigureAwait(false);
            }
            else
            {
                try
                {
                    await all.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Each finalizer reports its own failures.
                }
            }
        }

        /// <summary>One API call with the runner's own extra rounds for throttling, on top of the client's retries.</summary>
        private async Task<TR> CallAsync<TR>(Func<CancellationToken, Task<TR>> call)
        {
            for (var round = 0; ; round++)
            {
                try
                {
                    return await CallOnceAsync(call).ConfigureAwait(false);
                }
                catch (SsmServiceException ex) when (ex.IsTransient && round < _o.ThrottleRounds)
                {
                    var backoff = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(20).Ticks, _o.PollInterval.Ticks * (1L << Math.Min(round, 10))));
                    await _o.Delay(backoff, _ct).ConfigureAwait(false);
                }
            }
        }

        private async Task<TR> CallOnceAsync<TR>(Func<CancellationToken, Task<TR>> call)
        {
            await _calls.WaitAsync(_ct).ConfigureAwait(false);
            try
            {
                return await call(_ct).ConfigureAwait(false);
            }
            finally
            {
                _calls.Release();
            }
        }

        // ---------------- results ----------------
        private string? PlatformOf(string id) => _platform.TryGetValue(id, out var p) ? p : null;

        private FleetNodeResult<T> NotStarted(string id, string? commandId) =>
            Fail(id, FleetOutcome.NotStarted, SsmErrorIds.SsmMaxErrorsExceeded, S3MountErrorKind.OperationStopped,
                "Not started: more nodes failed than -MaxErrors allows (" + (_req.MaxErrors ?? "?") + ").", commandId);

        private FleetNodeResult<T> FromException(string id, SsmServiceException ex, string? commandId)
        {
            var outcome = ex.ErrorId == SsmErrorIds.SsmThrottled ? FleetOutcome.Throttled
                : ex.ErrorId == SsmErrorIds.SsmInvalidInstanceId ? FleetOutcome.NotFound
                : FleetOutcome.ApiError;
            return Fail(id, outcome, ex.ErrorId, ex.Kind, ex.Message, commandId);
        }

        private FleetNodeResult<T> Fail(string id, FleetOutcome outcome, string errorId, S3MountErrorKind kind, string message, string? commandId,
            SsmCommandInvocation? inv = null, int? exit = null, string? stdout = null, string? stderr = null, string? source = null) => new()
        {
            InstanceId = id,
            Outcome = outcome,
            ErrorId = errorId,
            ErrorKind = kind,
            ErrorMessage = message,
            CommandId = commandId,
            ExitCode = exit,
            Stdout = stdout,
            Stderr = stderr,
            OutputSource = source,
            SsmStatus = inv?.Status,
            SsmStatusDetails = inv?.CommandPlugins.FirstOrDefault()?.StatusDetails ?? inv?.StatusDetails,
            PlatformName = PlatformOf(id),
        };

        private void Report(FleetNodeResult<T> result)
        {
            if (!_reported.TryAdd(result.InstanceId, true))
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

            _sink.OnResult(result);
            Progress(result.InstanceId);
        }

        private void Progress(string? last)
        {
            _sink.OnProgress(new FleetProgress
            {
                BatchesSent = Volatile.Read(ref _batchesSent),
                BatchesTotal = _batchesTotal,
                NodesDone = _reported.Count,
                NodesTotal = _nodesTotal,
                LastInstanceId = last,
            });
        }
    }

    private T Parse<T>(Func<FleetNodeOutput, T> parse, FleetNodeOutput output) => parse(output);
}
