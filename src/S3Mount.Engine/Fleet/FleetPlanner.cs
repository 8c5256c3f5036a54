using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Amazon.SimpleSystemsManagement.Model;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Ssm;

namespace S3Mount.Engine.Fleet;

/// <summary>
/// The planner of a fleet run: checks every instance with paged DescribeInstanceInformation before anything is sent
/// (unknown, not Online or not Linux nodes get their error at once), splits each request into SendCommands of at most 50
/// instances, keeps MaxConcurrency (commands in flight) and MaxErrors (no new command once errors exceed it; each command
/// carries what is left of the budget), and hands every sent command to the <see cref="CommandPoller{T}"/>.
/// </summary>
internal sealed class FleetPlanner<T>
{
    private static readonly Regex InstanceIdPattern = new("(^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)", RegexOptions.CultureInvariant);
    private readonly FleetState<T> _s;
    private readonly ISsmClient _ssm;
    private readonly CommandPoller<T> _poller;

    public FleetPlanner(FleetState<T> state, ISsmClient ssm, CommandPoller<T> poller)
    {
        _s = state;
        _ssm = ssm;
        _poller = poller;
    }

    private sealed class Batch
    {
        public Batch(int request, IReadOnlyList<string>? ids, IReadOnlyList<SsmTarget>? targets)
        {
            Request = request;
            Ids = ids;
            Targets = targets;
        }

        public int Request { get; }
        public IReadOnlyList<string>? Ids { get; }
        public IReadOnlyList<SsmTarget>? Targets { get; }
    }

    public async Task RunAsync()
    {
        var o = _s.Options;
        var perRequest = new List<List<string>>();
        for (var r = 0; r < _s.Requests.Count; r++)
        {
            var ids = new List<string>();
            foreach (var raw in _s.Requests[r].InstanceIds)
            {
                var id = raw?.Trim() ?? string.Empty;
                if (!_s.Know(r, id))
                {
                    continue;
                }

                if (!InstanceIdPattern.IsMatch(id))
                {
                    _s.Report(_s.Fail(r, id, FleetOutcome.NotFound, SsmErrorIds.SsmInvalidInstanceId, S3MountErrorKind.InvalidArgument,
                        "'" + id + "' is not an instance id (i-xxxxxxxxxxxxxxxxx or mi-xxxxxxxxxxxxxxxxx).", null));
                    continue;
                }

                ids.Add(id);
            }

            perRequest.Add(ids);
        }

        var first = _s.Requests[0];
        var total = _s.NodesTotal;
        var maxConc = FleetRunner.ResolveCount(first.MaxConcurrency, total, atLeastOne: true);
        if (FleetRunner.ResolveCount(first.MaxErrors, total, atLeastOne: false) is int me)
        {
            _s.ErrorThreshold = me;
        }

        var batchSize = Math.Max(1, Math.Min(50, o.BatchSize));
        var ready = new BatchQueue();
        _s.BatchesTotal = _s.Requests.Count(r => r.Targets.Count > 0) + perRequest.Sum(ids => (ids.Count + batchSize - 1) / batchSize);
        for (var r = 0; r < _s.Requests.Count; r++)
        {
            if (_s.Requests[r].Targets.Count > 0)
            {
                ready.Add(new Batch(r, null, _s.Requests[r].Targets));
            }
        }

        // Batches are cut as the preflight pages come back, so one slow (throttled) page delays only its own nodes.
        var batching = new Batcher(perRequest, batchSize, ready);
        var preflight = o.Preflight ? PreflightAsync(perRequest, batching) : Task.Run(() => batching.AddAll());
        _ = preflight.ContinueWith(t =>
        {
            batching.Flush();
            _s.BatchesTotal = ready.Added;
            ready.Complete();
        }, TaskScheduler.Default);

        var perCommand = maxConc is int mc ? Math.Min(mc, batchSize) : batchSize;
        var inFlight = maxConc is int mc2 ? Math.Max(1, Math.Min(o.MaxCommandsInFlight, mc2 / batchSize)) : Math.Max(1, o.MaxCommandsInFlight);
        _s.Progress(null, force: true);

        // Not disposed: the poller frees slots as commands finish, also after the last send.
        var slots = new SemaphoreSlim(inFlight);
        var sends = new List<Task>();
        try
        {
            while (await ready.TakeAsync(_s.Ct).ConfigureAwait(false) is { } batch)
            {
                await slots.WaitAsync(_s.Ct).ConfigureAwait(false);
                if (_s.StopNew)
                {
                    slots.Release();
                    foreach (var id in batch.Ids ?? Array.Empty<string>())
                    {
                        _s.Report(_s.NotStarted(batch.Request, id, null));
                    }

                    continue;
                }

                // Sends overlap (bounded by the call budget): with real API latency, serial sends would delay the last batch.
                sends.Add(Task.Run(async () =>
                {
                    if (!await SendAsync(batch, perCommand, () => slots.Release()).ConfigureAwait(false))
                    {
                        slots.Release();
                    }
                }));
            }
        }
        finally
        {
            var allSends = Task.WhenAll(sends.Append(preflight));
            try
            {
                if (_s.Ct.IsCancellationRequested)
                {
                    // Sends on the wire finish (and their commands are cancelled); do not wait for them for long.
                    await Task.WhenAny(allSends, Task.Delay(o.CancelGrace)).ConfigureAwait(false);
                }
                else
                {
                    await allSends.ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (_s.Ct.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>Checks every instance, pages of 50 at a time; each page's eligible nodes go to <paramref name="batching"/> as it comes back, every other node gets its error.</summary>
    private async Task PreflightAsync(List<List<string>> perRequest, Batcher batching)
    {
        var all = perRequest.SelectMany(ids => ids).Distinct(StringComparer.Ordinal).ToList();
        var found = new ConcurrentDictionary<string, InstanceInformation>(StringComparer.Ordinal);
        var chunks = new List<List<string>>();
        for (var i = 0; i < all.Count; i += 50)
        {
            chunks.Add(all.Skip(i).Take(50).ToList());
        }

        await Task.WhenAll(chunks.Select(async chunk =>
        {
            SsmServiceException? failure = null;
            try
            {
                await foreach (var page in _s.Calls.PagesAsync(
                    (token, c) => _ssm.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest
                    {
                        Filters = new List<InstanceInformationStringFilter> { new() { Key = "InstanceIds", Values = chunk } },
                        MaxResults = 50,
                        NextToken = token,
                    }, c),
                    p => p.NextToken, must: true).ConfigureAwait(false))
                {
                    foreach (var info in page.InstanceInformationList ?? new List<InstanceInformation>())
                    {
                        if (info.InstanceId is not null)
                        {
                            found[info.InstanceId] = info;
                        }
                    }
                }
            }
            catch (SsmServiceException ex)
            {
                failure = ex;
            }

            var eligible = new HashSet<string>(StringComparer.Ordinal);
            for (var r = 0; r < perRequest.Count; r++)
            {
                foreach (var id in chunk.Where(batching.Requested(r).Contains))
                {
                    if (failure is not null)
                    {
                        _s.Report(_s.FromException(r, id, failure, null));
                    }
                    else if (Refusal(id, found.TryGetValue(id, out var info) ? info : null) is { } refusal)
                    {
                        _s.Report(_s.Fail(r, id, refusal.Outcome, refusal.ErrorId, refusal.Kind, refusal.Message, null));
                    }
                    else
                    {
                        eligible.Add(id);
                    }
                }
            }

            batching.Add(chunk, eligible);
        })).ConfigureAwait(false);
    }

    private (FleetOutcome Outcome, string ErrorId, S3MountErrorKind Kind, string Message)? Refusal(string id, InstanceInformation? info)
    {
        if (info is null)
        {
            return (FleetOutcome.NotFound, SsmErrorIds.SsmInstanceNotFound, S3MountErrorKind.ObjectNotFound,
                "SSM does not manage this instance: it does not exist in this account and region, or its SSM agent never registered (check the instance profile and the agent).");
        }

        _s.Platform[id] = info.PlatformName;
        var ping = info.PingStatus?.Value;
        if (!string.Equals(ping, "Online", StringComparison.Ordinal))
        {
            return (FleetOutcome.AgentOffline, SsmErrorIds.SsmAgentOffline, S3MountErrorKind.ResourceUnavailable,
                "The node's SSM agent is " + (ping ?? "unknown") + ", not Online" +
                (info.LastPingDateTime is DateTime lp ? " (last ping " + lp.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture) + ")" : string.Empty) + "; skipped.");
        }

        var platform = info.PlatformType?.Value;
        if (!string.Equals(platform, "Linux", StringComparison.Ordinal))
        {
            return (FleetOutcome.NotLinux, SsmErrorIds.SsmNotLinux, S3MountErrorKind.InvalidOperation,
                "The node runs " + (platform ?? "an unknown platform") + (info.PlatformName is null ? string.Empty : " (" + info.PlatformName + ")") + "; Mountpoint for Amazon S3 needs Linux. Skipped.");
        }

        return null;
    }

    private SendCommandRequest BuildSend(FleetRunRequest req, IReadOnlyList<string>? ids, IReadOnlyList<SsmTarget>? targets, string maxConcurrency, string maxErrors)
    {
        var parameters = new Dictionary<string, List<string>>(StringComparer.Ordinal)
        {
            ["commands"] = ScriptEncoding.ToCommands(req.Script).ToList(),
        };
        if (req.ExecutionTimeoutSeconds is int et)
        {
            parameters["executionTimeout"] = new List<string> { et.ToString(CultureInfo.InvariantCulture) };
        }

        if (!string.IsNullOrEmpty(req.WorkingDirectory))
        {
            parameters["workingDirectory"] = new List<string> { req.WorkingDirectory! };
        }

        var send = new SendCommandRequest
        {
            DocumentName = FleetRunner.DocumentName,
            Parameters = parameters,
            TimeoutSeconds = req.DeliveryTimeoutSeconds,
            Comment = req.Comment,
            MaxConcurrency = maxConcurrency,
            MaxErrors = maxErrors,
        };
        if (ids is not null)
        {
            send.InstanceIds = ids.ToList();
        }

        if (targets is not null)
        {
            send.Targets = targets.Select(t => new Target { Key = t.Key, Values = t.Values.ToList() }).ToList();
        }

        if (req.OutputS3BucketName is not null)
        {
            send.OutputS3BucketName = req.OutputS3BucketName;
            send.OutputS3KeyPrefix = req.OutputS3KeyPrefix;
            send.OutputS3Region = req.OutputS3Region;
        }

        if (req.CloudWatchLogGroupName is not null)
        {
            send.CloudWatchOutputConfig = new CloudWatchOutputConfig { CloudWatchOutputEnabled = true, CloudWatchLogGroupName = req.CloudWatchLogGroupName };
        }

        return send;
    }

    /// <summary>
    /// Sends one command. Once a SendCommand is on the wire it is not abandoned: SSM may create the command anyway, and
    /// only its id lets us cancel it. Cancellation is checked before sending and between throttled attempts.
    /// False when nothing is in flight (the caller frees the slot).
    /// </summary>
    private async Task<bool> SendAsync(Batch batch, int perCommand, Action releaseSlot)
    {
        var req = _s.Requests[batch.Request];
        var send = batch.Targets is not null
            ? BuildSend(req, null, batch.Targets, req.MaxConcurrency ?? "50", req.MaxErrors ?? "100%")
            : BuildSend(req, batch.Ids, null, perCommand.ToString(CultureInfo.InvariantCulture), _s.RemainingErrorBudget());
        Command cmd;
        try
        {
            cmd = await _s.Calls.MustAsync(_ => _ssm.SendCommandAsync(send, CancellationToken.None), CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_s.Ct.IsCancellationRequested)
        {
            return false;
        }
        catch (SsmServiceException ex)
        {
            foreach (var id in batch.Ids ?? Array.Empty<string>())
            {
                _s.Report(_s.FromException(batch.Request, id, ex, null));
            }

            return false;
        }

        var tracker = new CommandTracker(batch.Request, cmd.CommandId ?? string.Empty, batch.Ids, send.MaxErrors, DateTime.UtcNow,
            cmd.RequestedDateTime, Deadline(req), releaseSlot);
        _poller.Add(tracker);
        _s.BatchSent();
        if (_s.Ct.IsCancellationRequested)
        {
            // Cancelled while this command was being created: cancel it too, so nothing runs unobserved.
            await _poller.CancelAsync(new[] { tracker }).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>After this long SSM should have a final status for every node (delivery + execution timeout + grace).</summary>
    private TimeSpan Deadline(FleetRunRequest req) =>
        TimeSpan.FromSeconds((req.DeliveryTimeoutSeconds ?? 3600) + (req.ExecutionTimeoutSeconds ?? 3600)) + _s.Options.StatusGrace;

    /// <summary>Cuts each request's eligible instances into batches, in the order the requests named them.</summary>
    private sealed class Batcher
    {
        private readonly List<List<string>> _perRequest;
        private readonly List<HashSet<string>> _requested;
        private readonly List<List<string>> _buffers;
        private readonly int _size;
        private readonly BatchQueue _ready;

        public Batcher(List<List<string>> perRequest, int size, BatchQueue ready)
        {
            _perRequest = perRequest;
            _requested = perRequest.Select(ids => new HashSet<string>(ids, StringComparer.Ordinal)).ToList();
            _buffers = perRequest.Select(_ => new List<string>()).ToList();
            _size = size;
            _ready = ready;
        }

        public HashSet<string> Requested(int request) => _requested[request];

        /// <summary>No preflight: every instance is eligible.</summary>
        public void AddAll()
        {
            for (var r = 0; r < _perRequest.Count; r++)
            {
                Add(r, _perRequest[r]);
            }
        }

        public void Add(IReadOnlyList<string> chunk, HashSet<string> eligible)
        {
            for (var r = 0; r < _perRequest.Count; r++)
            {
                Add(r, chunk.Where(id => eligible.Contains(id) && _requested[r].Contains(id)));
            }
        }

        private void Add(int request, IEnumerable<string> ids)
        {
            lock (_buffers)
            {
                var buffer = _buffers[request];
                foreach (var id in ids)
                {
                    buffer.Add(id);
                    if (buffer.Count == _size)
                    {
                        _ready.Add(new Batch(request, buffer.ToList(), null));
                        buffer.Clear();
                    }
                }
            }
        }

        public void Flush()
        {
            lock (_buffers)
            {
                for (var r = 0; r < _buffers.Count; r++)
                {
                    if (_buffers[r].Count > 0)
                    {
                        _ready.Add(new Batch(r, _buffers[r].ToList(), null));
                        _buffers[r].Clear();
                    }
                }
            }
        }
    }

    /// <summary>Batches ready to send, taken in order by the send loop; ends once the preflight is complete and all are taken.</summary>
    private sealed class BatchQueue
    {
        private readonly ConcurrentQueue<Batch> _items = new();
        private readonly SemaphoreSlim _signal = new(0);
        private int _added;
        private volatile bool _complete;

        public int Added => Volatile.Read(ref _added);

        public void Add(Batch batch)
        {
            Interlocked.Increment(ref _added);
            _items.Enqueue(batch);
            _signal.Release();
        }

        public void Complete()
        {
            _complete = true;
            _signal.Release();
        }

        public async Task<Batch?> TakeAsync(CancellationToken ct)
        {
            while (true)
            {
                if (_items.TryDequeue(out var batch))
                {
                    return batch;
                }

                if (_complete)
                {
                    return null;
                }

                await _signal.WaitAsync(ct).ConfigureAwait(false);
            }
        }
    }
}
