using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.SimpleSystemsManagement.Model;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

internal sealed class MemoryReader : ISsmOutputReader
{
    private readonly InMemoryOutputStore _store;

    public MemoryReader(InMemoryOutputStore store) => _store = store;

    public int Reads;

    public Task<string?> ReadTextAsync(string bucket, string key, string? region, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Reads);
        return Task.FromResult(_store.Get(bucket, key));
    }
}

/// <summary>Wraps a client so GetCommandInvocation first answers InvocationDoesNotExist, as SSM does right after SendCommand.</summary>
internal sealed class LaggingClient : ISsmClient
{
    private readonly ISsmClient _inner;
    private readonly ConcurrentDictionary<string, int> _gets = new();

    public LaggingClient(ISsmClient inner, int misses)
    {
        _inner = inner;
        Misses = misses;
    }

    public int Misses { get; }

    public int Thrown;

    public Task<Command> SendCommandAsync(SendCommandRequest r, CancellationToken ct) => _inner.SendCommandAsync(r, ct);

    public IAsyncEnumerable<ListCommandInvocationsResponse> ListCommandInvocationsAsync(ListCommandInvocationsRequest r, CancellationToken ct) => _inner.ListCommandInvocationsAsync(r, ct);

    public Task<GetCommandInvocationResponse> GetCommandInvocationAsync(GetCommandInvocationRequest r, CancellationToken ct)
    {
        if (_gets.AddOrUpdate(r.InstanceId, 1, (_, n) => n + 1) <= Misses)
        {
            Interlocked.Increment(ref Thrown);
            throw new SsmInvocationDoesNotExistException("not yet", "InvocationDoesNotExist", System.Net.HttpStatusCode.BadRequest, null);
        }

        return _inner.GetCommandInvocationAsync(r, ct);
    }

    public Task CancelCommandAsync(CancelCommandRequest r, CancellationToken ct) => _inner.CancelCommandAsync(r, ct);

    public IAsyncEnumerable<DescribeInstanceInformationResponse> DescribeInstanceInformationAsync(DescribeInstanceInformationRequest r, CancellationToken ct) => _inner.DescribeInstanceInformationAsync(r, ct);

    public IAsyncEnumerable<ListCommandsResponse> ListCommandsAsync(ListCommandsRequest r, CancellationToken ct) => _inner.ListCommandsAsync(r, ct);
}

public class FleetTests
{
    internal static FleetRunnerOptions FastOptions() => new()
    {
        PollInterval = TimeSpan.FromMilliseconds(20),
        MaxPollInterval = TimeSpan.FromMilliseconds(60),
        MinPollInterval = TimeSpan.FromMilliseconds(5),
        ResultLatency = TimeSpan.FromMilliseconds(50),
        ThrottleBackoff = TimeSpan.FromMilliseconds(20),
        ProgressInterval = TimeSpan.Zero,
    };

    private static List<string> Ids(int n, int from = 0) => Enumerable.Range(from, n).Select(Ssm.Id).ToList();

    private static async Task<(FleetRunSummary Summary, List<FleetNodeResult<ResultBlock>> Results, List<FleetProgress> Progress)> Run(
        FleetRunner runner, FleetRunRequest request, CancellationToken ct = default)
    {
        var results = new List<FleetNodeResult<ResultBlock>>();
        var progress = new List<FleetProgress>();
        var sink = new DelegateFleetSink<ResultBlock>(r => { lock (results) { results.Add(r); } }, p => { lock (progress) { progress.Add(p); } });
        var summary = await runner.RunAsync(request, o => ResultBlock.Parse(o.Stdout, o.InstanceId), sink, ct);
        return (summary, results, progress);
    }

    [Fact]
    public async Task BatchesOfAtMostFiftyWithOneSendCommandEachAndStreamedResults()
    {
        using var fake = new FakeSsmServer();
        foreach (var id in Ids(120))
        {
            fake.AddInstance(id, new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(5) });
        }

        using var client = Ssm.Client(fake.Endpoint);
        var (summary, results, progress) = await Run(new FleetRunner(client, null, FastOptions()), new FleetRunRequest { Script = "echo", InstanceIds = Ids(120).Concat(Ids(5)).ToList() });

        Assert.Equal(120, results.Count);
        Assert.Equal(120, results.Select(r => r.InstanceId).Distinct().Count());
        Assert.All(results, r => Assert.True(r.IsSuccess, r.ToString()));
        Assert.All(results, r => Assert.Equal("ok", r.Value!.Records[0].Tag));
        Assert.Equal(3, fake.Calls["SendCommand"]);
        Assert.Equal(new[] { 50, 50, 20 }, fake.Commands.Select(c => c.InstanceIds.Count).OrderByDescending(x => x).ToArray());
        Assert.Equal(120, fake.Commands.SelectMany(c => c.InstanceIds).Distinct().Count());
        Assert.Equal(3, summary.CommandIds.Count);
        Assert.Equal(120, summary.Succeeded);
        Assert.Equal(3, fake.Calls["DescribeInstanceInformation"]);
        Assert.False(fake.Calls.ContainsKey("GetCommandInvocation"));
        Assert.Contains(progress, p => p.BatchesSent == 3 && p.BatchesTotal == 3);
        Assert.Equal(120, progress.Max(p => p.NodesDone));
        Assert.All(progress, p => Assert.Equal(120, p.NodesTotal));
    }

    [Fact]
    public async Task PreflightSkipsOfflineNonLinuxUnknownAndMalformedNodes()
    {
        using var fake = new FakeSsmServer();
        fake.AddNode(new FakeNode(Ssm.Id(1), new SimulatedInstance()));
        fake.AddNode(new FakeNode(Ssm.Id(2), new SimulatedInstance()) { PingStatus = "ConnectionLost" });
        fake.AddNode(new FakeNode(Ssm.Id(3), new SimulatedInstance()) { PlatformType = "Windows", PlatformName = "Microsoft Windows Server 2022" });
        fake.AddNode(new FakeNode(Ssm.Id(4), new SimulatedInstance()) { PingStatus = "Inactive" });
        using var client = Ssm.Client(fake.Endpoint);
        var (_, results, _) = await Run(new FleetRunner(client, null, FastOptions()), new FleetRunRequest { Script = "x", InstanceIds = new[] { Ssm.Id(1), Ssm.Id(2), Ssm.Id(3), Ssm.Id(4), Ssm.Id(5), "i-nope" } });
        var by = results.ToDictionary(r => r.InstanceId);
        Assert.Equal(6, results.Count);
        Assert.True(by[Ssm.Id(1)].IsSuccess);
        Assert.Equal(FleetOutcome.AgentOffline, by[Ssm.Id(2)].Outcome);
        Assert.Equal(SsmErrorIds.SsmAgentOffline, by[Ssm.Id(2)].ErrorId);
        Assert.Equal(FleetOutcome.NotLinux, by[Ssm.Id(3)].Outcome);
        Assert.Equal(FleetOutcome.AgentOffline, by[Ssm.Id(4)].Outcome);
        Assert.Equal(FleetOutcome.NotFound, by[Ssm.Id(5)].Outcome);
        Assert.Equal(SsmErrorIds.SsmInstanceNotFound, by[Ssm.Id(5)].ErrorId);
        Assert.Equal(FleetOutcome.NotFound, by["i-nope"].Outcome);
        Assert.Equal(new[] { Ssm.Id(1) }, fake.Commands.Single().InstanceIds);
        var ex = by[Ssm.Id(3)].ToException()!;
        Assert.Equal(Ssm.Id(3), ex.Target);
        Assert.Equal(S3MountErrorKind.InvalidOperation, ex.Kind);
    }

    [Fact]
    public async Task ThousandNodesWithThrottlingUndeliverableAndFailuresEachGetExactlyOneResult()
    {
        var rng = new Random(7);
        using var fake = new FakeSsmServer(new FakeSsmOptions { ThrottlePercent = 0 });
        var expectUndeliverable = new HashSet<string>();
        var expectFailed = new HashSet<string>();
        var ids = Ids(1000);
        foreach (var id in ids)
        {
            var roll = rng.Next(100);
            var undeliverable = roll < 5;
            var failing = roll >= 5 && roll < 10;
            if (undeliverable)
            {
                expectUndeliverable.Add(id);
            }

            if (failing)
            {
                expectFailed.Add(id);
            }

            fake.AddNode(new FakeNode(id, new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(rng.Next(1, 40)), ExitCode = failing ? 3 : 0 }) { Undeliverable = undeliverable });
        }

        fake.Options.ThrottlePercent = 20;
        using var client = Ssm.Client(fake.Endpoint);
        var sw = Stopwatch.StartNew();
        var (summary, results, _) = await Run(new FleetRunner(client, null, FastOptions()), new FleetRunRequest { Script = "x", InstanceIds = ids });
        sw.Stop();

        Assert.Equal(1000, results.Count);
        Assert.Equal(1000, results.Select(r => r.InstanceId).Distinct().Count());
        Assert.Equal(ids.OrderBy(x => x), results.Select(r => r.InstanceId).OrderBy(x => x));
        var throttled = results.Where(r => r.Outcome == FleetOutcome.Throttled).Select(r => r.InstanceId).ToHashSet();
        foreach (var r in results.Where(r => !throttled.Contains(r.InstanceId)))
        {
            if (expectUndeliverable.Contains(r.InstanceId))
            {
                Assert.Equal(FleetOutcome.Undeliverable, r.Outcome);
                Assert.Equal(SsmErrorIds.SsmUndeliverable, r.ErrorId);
            }
            else if (expectFailed.Contains(r.InstanceId))
            {
                Assert.Equal(FleetOutcome.Failed, r.Outcome);
                Assert.Equal("S3MountSimulatedFailure", r.ErrorId);
                Assert.Equal("simulated failure", r.ErrorMessage);
                Assert.Equal(3, r.ExitCode);
            }
            else
            {
                Assert.True(r.IsSuccess, r.ToString());
            }
        }

        // Throttling is absorbed by retries: at most a handful of nodes may still end Throttled.
        Assert.True(throttled.Count <= 50, throttled.Count + " throttled");
        Assert.InRange(fake.ThrottledCalls, fake.TotalCalls / 10, fake.TotalCalls * 3 / 10);
        Assert.True(fake.Calls["SendCommand"] <= 20 * 8, "SendCommand calls: " + fake.Calls["SendCommand"]);
        Assert.Equal(1000, summary.Succeeded + summary.FailedNodes);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(25), sw.Elapsed.ToString());
    }

    [Fact]
    public async Task MaxErrorsStopsNewNodesOnceExceeded()
    {
        using var fake = new FakeSsmServer();
        var ids = Ids(200);
        foreach (var id in ids)
        {
            fake.AddInstance(id, new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(5), ExitCode = 1 });
        }

        using var client = Ssm.Client(fake.Endpoint);
        var (summary, results, _) = await Run(new FleetRunner(client, null, FastOptions()), new FleetRunRequest { Script = "x", InstanceIds = ids, MaxErrors = "5", MaxConcurrency = "10" });
        Assert.Equal(200, results.Count);
        var failed = results.Count(r => r.Outcome == FleetOutcome.Failed);
        Assert.InRange(failed, 6, 5 + 10);
        Assert.Equal(200 - failed, results.Count(r => r.Outcome == FleetOutcome.NotStarted));
        Assert.All(results.Where(r => r.Outcome == FleetOutcome.NotStarted), r => Assert.Equal(SsmErrorIds.SsmMaxErrorsExceeded, r.ErrorId));
        Assert.True(summary.MaxErrorsExceeded);
        Assert.All(fake.Commands, c => Assert.True(c.MaxConcurrency <= 10));
        Assert.Single(fake.Commands); // later batches were never sent
    }

    [Fact]
    public async Task MaxErrorsPercentAndZero()
    {
        using var fake = new FakeSsmServer();
        var ids = Ids(20);
        for (var i = 0; i < ids.Count; i++)
        {
            fake.AddInstance(ids[i], new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(1), ExitCode = i == 0 ? 1 : 0 });
        }

        using var client = Ssm.Client(fake.Endpoint);
        var (summary, results, _) = await Run(new FleetRunner(client, null, FastOptions()), new FleetRunRequest { Script = "x", InstanceIds = ids, MaxErrors = "0", MaxConcurrency = "1" });
        Assert.Equal(20, results.Count);
        Assert.Equal(1, results.Count(r => r.Outcome == FleetOutcome.Failed));
        Assert.Equal(19, results.Count(r => r.Outcome == FleetOutcome.NotStarted));
        Assert.True(summary.MaxErrorsExceeded);
    }

    [Fact]
    public async Task CancellingMidRunSendsCancelCommandAndReturnsPromptly()
    {
        using var fake = new FakeSsmServer();
        var ids = Ids(150);
        foreach (var id in ids)
        {
            fake.AddInstance(id, new SimulatedInstance { Latency = TimeSpan.FromSeconds(30) });
        }

        using var client = Ssm.Client(fake.Endpoint);
        using var cts = new CancellationTokenSource();
        var runner = new FleetRunner(client, null, FastOptions());
        var run = runner.Start(new FleetRunRequest { Script = "x", InstanceIds = ids }, o => o.Stdout, cts.Token);
        var events = new List<FleetEvent<string>>();
        var drain = Task.Run(() => { foreach (var e in run.GetConsumingEnumerable()) { events.Add(e); } });
        while (fake.Commands.Count < 3)
        {
            await Task.Delay(10);
        }

        await Task.Delay(100);
        var sw = Stopwatch.StartNew();
        cts.Cancel();
        var summary = await run.Completion;
        sw.Stop();
        await drain;
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), "returned after " + sw.Elapsed);
        Assert.True(summary.Cancelled);
        Assert.InRange(fake.Calls["CancelCommand"], 3, 6);
        var results = events.Where(e => e.Result is not null).Select(e => e.Result!).ToList();
        Assert.Equal(150, results.Count);
        Assert.All(results, r => Assert.Equal(FleetOutcome.Cancelled, r.Outcome));
        Assert.All(results, r => Assert.Equal(SsmErrorIds.SsmCancelled, r.ErrorId));
        Assert.Contains(events, e => e.Progress is not null);
        await fake.WaitIdleAsync(TimeSpan.FromSeconds(5));
        Assert.All(fake.Commands, c => Assert.True(c.Cancelled));
    }

    [Fact]
    public async Task TruncatedOutputFallsBackToGetCommandInvocationThenS3()
    {
        var store = new InMemoryOutputStore();
        using var fake = new FakeSsmServer(new FakeSsmOptions { OutputStore = store });
        fake.AddInstance(Ssm.Id(1), new SimulatedInstance { PaddingBeforeResult = 5_000 });   // > 2,500: Details cut, GetCommandInvocation has it
        fake.AddInstance(Ssm.Id(2), new SimulatedInstance { PaddingBeforeResult = 30_000 });  // > 24,000: only S3 has it
        fake.AddInstance(Ssm.Id(3), new SimulatedInstance());
        fake.AddInstance(Ssm.Id(4), new SimulatedInstance { PaddingBeforeResult = 30_000, ExitCode = 1 });
        using var client = Ssm.Client(fake.Endpoint);
        var reader = new MemoryReader(store);
        var ids = new[] { Ssm.Id(1), Ssm.Id(2), Ssm.Id(3), Ssm.Id(4) };

        var (_, withBucket, _) = await Run(new FleetRunner(client, reader, FastOptions()), new FleetRunRequest { Script = "x", InstanceIds = ids, OutputS3BucketName = "out-bucket", OutputS3KeyPrefix = "runs/" });
        var by = withBucket.ToDictionary(r => r.InstanceId);
        Assert.True(by[Ssm.Id(1)].IsSuccess, by[Ssm.Id(1)].ToString());
        Assert.Equal("GetCommandInvocation", by[Ssm.Id(1)].OutputSource);
        Assert.True(by[Ssm.Id(2)].IsSuccess, by[Ssm.Id(2)].ToString());
        Assert.Equal("S3", by[Ssm.Id(2)].OutputSource);
        Assert.True(by[Ssm.Id(2)].Stdout!.Length > 30_000);
        Assert.Equal("ListCommandInvocations", by[Ssm.Id(3)].OutputSource);
        Assert.Equal("S3MountSimulatedFailure", by[Ssm.Id(4)].ErrorId);
        Assert.Contains(store.Objects.Keys, k => k.StartsWith("out-bucket/runs/", StringComparison.Ordinal) && k.EndsWith("/" + Ssm.Id(2) + "/awsrunShellScript/0.awsrunShellScript/stdout", StringComparison.Ordinal));

        var (_, noBucket, _) = await Run(new FleetRunner(client, reader, FastOptions()), new FleetRunRequest { Script = "x", InstanceIds = ids });
        var nb = noBucket.ToDictionary(r => r.InstanceId);
        Assert.True(nb[Ssm.Id(1)].IsSuccess);
        Assert.Equal(FleetOutcome.OutputTruncated, nb[Ssm.Id(2)].Outcome);
        Assert.Equal(SsmErrorIds.S3MountResultTruncated, nb[Ssm.Id(2)].ErrorId);
        Assert.Contains("-OutputS3BucketName", nb[Ssm.Id(2)].ErrorMessage);
        Assert.Equal(FleetOutcome.OutputTruncated, nb[Ssm.Id(4)].Outcome);
    }

    [Fact]
    public async Task InvocationDoesNotExistIsTolerated()
    {
        using var fake = new FakeSsmServer(new FakeSsmOptions { InvocationVisibilityDelay = TimeSpan.FromMilliseconds(150) });
        fake.AddInstance(Ssm.Id(1), new SimulatedInstance { PaddingBeforeResult = 5_000 });
        fake.AddInstance(Ssm.Id(2), new SimulatedInstance());
        using var inner = Ssm.Client(fake.Endpoint);
        var client = new LaggingClient(inner, misses: 3);
        var (_, results, _) = await Run(new FleetRunner(client, null, FastOptions()), new FleetRunRequest { Script = "x", InstanceIds = new[] { Ssm.Id(1), Ssm.Id(2) } });
        Assert.All(results, r => Assert.True(r.IsSuccess, r.ToString()));
        Assert.Equal(3, client.Thrown);
        Assert.Equal("GetCommandInvocation", results.Single(r => r.InstanceId == Ssm.Id(1)).OutputSource);
    }

    [Fact]
    public async Task DeliveryAndExecutionTimeoutsAreClassified()
    {
        using var fake = new FakeSsmServer(new FakeSsmOptions { TimeoutScale = 0.001 });
        fake.AddNode(new FakeNode(Ssm.Id(1), new SimulatedInstance()) { NeverDelivered = true });
        fake.AddNode(new FakeNode(Ssm.Id(2), new SimulatedInstance { Latency = TimeSpan.FromSeconds(10) }));
        fake.AddNode(new FakeNode(Ssm.Id(3), new SimulatedInstance()) { Undeliverable = true });
        using var client = Ssm.Client(fake.Endpoint);
        var (_, results, _) = await Run(new FleetRunner(client, null, FastOptions()), new FleetRunRequest { Script = "x", InstanceIds = new[] { Ssm.Id(1), Ssm.Id(2), Ssm.Id(3) }, DeliveryTimeoutSeconds = 30, ExecutionTimeoutSeconds = 50 });
        var by = results.ToDictionary(r => r.InstanceId);
        Assert.Equal(FleetOutcome.DeliveryTimedOut, by[Ssm.Id(1)].Outcome);
        Assert.Equal(SsmErrorIds.SsmDeliveryTimedOut, by[Ssm.Id(1)].ErrorId);
        Assert.Equal(FleetOutcome.ExecutionTimedOut, by[Ssm.Id(2)].Outcome);
        Assert.Equal(SsmErrorIds.SsmCommandTimedOut, by[Ssm.Id(2)].ErrorId);
        Assert.Equal(FleetOutcome.Undeliverable, by[Ssm.Id(3)].Outcome);
    }

    [Fact]
    public async Task TagTargetsRunThroughOneCommand()
    {
        using var fake = new FakeSsmServer();
        for (var i = 0; i < 70; i++)
        {
            fake.AddNode(new FakeNode(Ssm.Id(i), new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(3) }) { Tags = new Dictionary<string, string> { ["Role"] = i % 2 == 0 ? "web" : "db" } });
        }

        using var client = Ssm.Client(fake.Endpoint);
        var (summary, results, _) = await Run(new FleetRunner(client, null, FastOptions()), new FleetRunRequest { Script = "x", Targets = new[] { new SsmTarget("tag:Role", new[] { "web" }) } });
        Assert.Equal(35, results.Count);
        Assert.All(results, r => Assert.True(r.IsSuccess));
        Assert.Equal(1, fake.Calls["SendCommand"]);
        Assert.Equal(35, summary.NodesTotal);
    }

    [Fact]
    public async Task TagTargetsHonourMaxErrorsLikeSsm()
    {
        using var fake = new FakeSsmServer();
        for (var i = 0; i < 30; i++)
        {
            fake.AddNode(new FakeNode(Ssm.Id(i), new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(2), ExitCode = 1 }) { Tags = new Dictionary<string, string> { ["Role"] = "web" } });
        }

        using var client = Ssm.Client(fake.Endpoint);
        var (summary, results, _) = await Run(new FleetRunner(client, null, FastOptions()), new FleetRunRequest { Script = "x", Targets = new[] { new SsmTarget("tag:Role", new[] { "web" }) }, MaxConcurrency = "2", MaxErrors = "3" });
        Assert.Equal(30, results.Count);
        Assert.InRange(results.Count(r => r.Outcome == FleetOutcome.Failed), 4, 5);
        Assert.All(results.Where(r => r.Outcome != FleetOutcome.Failed), r => Assert.Equal(FleetOutcome.NotStarted, r.Outcome));
        Assert.True(summary.MaxErrorsExceeded);
    }

    [Fact]
    public async Task CancelWhileSendCommandIsOnTheWireStillCancelsThatCommand()
    {
        using var fake = new FakeSsmServer(new FakeSsmOptions { ApiLatency = TimeSpan.FromMilliseconds(300) });
        var ids = Ids(10);
        foreach (var id in ids)
        {
            fake.AddInstance(id, new SimulatedInstance { Latency = TimeSpan.FromSeconds(30) });
        }

        using var client = Ssm.Client(fake.Endpoint);
        using var cts = new CancellationTokenSource();
        var runner = new FleetRunner(client, null, new FleetRunnerOptions { PollInterval = TimeSpan.FromMilliseconds(20), Preflight = false });
        var task = Run(runner, new FleetRunRequest { Script = "x", InstanceIds = ids }, cts.Token);
        await Task.Delay(100);
        Assert.Empty(fake.Commands); // the SendCommand is still on the wire
        var sw = Stopwatch.StartNew();
        cts.Cancel();
        var (summary, results, _) = await task;
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), sw.Elapsed.ToString());
        Assert.True(summary.Cancelled);
        Assert.Equal(10, results.Count);
        Assert.All(results, r => Assert.Equal(FleetOutcome.Cancelled, r.Outcome));
        Assert.Single(fake.Commands);
        Assert.True(fake.Commands[0].Cancelled, "the command created during cancellation was not cancelled");
    }

    [Fact]
    public void BadRequestsAreRefusedBeforeAnythingIsSent()
    {
        var runner = new FleetRunner(new LaggingClient(null!, 0));
        Assert.Throws<S3MountException>(() => runner.Start(new FleetRunRequest { Script = "", InstanceIds = Ids(1) }, o => o, default));
        Assert.Throws<S3MountException>(() => runner.Start(new FleetRunRequest { Script = "x" }, o => o, default));
        Assert.Throws<S3MountException>(() => runner.Start(new FleetRunRequest { Script = "x", InstanceIds = Ids(1), MaxConcurrency = "0" }, o => o, default));
        Assert.Throws<S3MountException>(() => runner.Start(new FleetRunRequest { Script = "x", InstanceIds = Ids(1), DeliveryTimeoutSeconds = 10 }, o => o, default));
        Assert.Throws<S3MountException>(() => runner.Start(new FleetRunRequest { Script = "x", InstanceIds = Ids(1), Comment = new string('c', 101) }, o => o, default));
        Assert.Throws<S3MountException>(() => runner.Start(new FleetRunRequest { Script = "x", Targets = Enumerable.Range(0, 6).Select(i => new SsmTarget("tag:a", new[] { "b" })).ToList() }, o => o, default));
    }
}

/// <summary>The planner, poller and fetcher of the split engine, each by what it promises.</summary>
public class FleetEngineTests
{
    private static List<string> Ids(int n, int from = 0) => Enumerable.Range(from, n).Select(Ssm.Id).ToList();

    [Fact]
    public async Task SeveralRequestsRunAsOneFleetWithOnePreflightAndOneQueue()
    {
        using var fake = new FakeSsmServer();
        foreach (var id in Ids(80))
        {
            fake.AddInstance(id, new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(5), Stdout = script => "S3MOUNT-RESULT 1\nok " + (script.Contains("Zmlyc3Q", StringComparison.Ordinal) ? "first" : "second") + "\nS3MOUNT-END\n" });
        }

        using var client = Ssm.Client(fake.Endpoint);
        var runner = new FleetRunner(client, null, FleetTests.FastOptions());
        var run = runner.Start(new[]
        {
            new FleetRunRequest { Script = "first", InstanceIds = Ids(60) },
            new FleetRunRequest { Script = "second", InstanceIds = Ids(60, 20) },
        }, o => o.RequestIndex + ":" + o.Block.First("ok")![0], CancellationToken.None);
        var results = run.GetConsumingEnumerable().Where(e => e.Result is not null).Select(e => e.Result!).ToList();
        var summary = await run.Completion;

        Assert.Equal(120, results.Count);
        Assert.Equal(60, results.Count(r => r.RequestIndex == 0 && r.Value == "0:first"));
        Assert.Equal(60, results.Count(r => r.RequestIndex == 1 && r.Value == "1:second"));
        Assert.Equal(120, results.Select(r => r.RequestIndex + r.InstanceId).Distinct().Count());
        Assert.Equal(2, fake.Calls["DescribeInstanceInformation"]); // 80 distinct instances: two pages, not one per request
        Assert.Equal(4, fake.Calls["SendCommand"]);
        Assert.Equal(120, summary.Succeeded);
        Assert.Equal(120, summary.NodesTotal);
    }

    [Fact]
    public void RequestsOfOneRunMustShareTheirLimits()
    {
        var runner = new FleetRunner(new LaggingClient(null!, 0));
        var e = Assert.Throws<S3MountException>(() => runner.Start(new[]
        {
            new FleetRunRequest { Script = "a", InstanceIds = Ids(1), MaxErrors = "1" },
            new FleetRunRequest { Script = "b", InstanceIds = Ids(1), MaxErrors = "2" },
        }, o => o, default));
        Assert.Equal(SsmErrorIds.SsmRequestInvalid, e.ErrorId);
    }

    [Fact]
    public async Task ManyCommandsArePolledWithOneSweepAndFetchedOnceEach()
    {
        using var fake = new FakeSsmServer();
        foreach (var id in Ids(250))
        {
            fake.AddInstance(id, new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(300) });
        }

        using var client = Ssm.Client(fake.Endpoint);
        var options = new FleetRunnerOptions { PollInterval = TimeSpan.FromMilliseconds(100), MinPollInterval = TimeSpan.FromMilliseconds(20), ResultLatency = TimeSpan.FromSeconds(30) };
        var results = new List<FleetNodeResult<string>>();
        var summary = await new FleetRunner(client, null, options).RunAsync(new FleetRunRequest { Script = "x", InstanceIds = Ids(250) }, o => o.Stdout,
            new DelegateFleetSink<string>(r => { lock (results) { results.Add(r); } }), CancellationToken.None);

        Assert.Equal(250, results.Count(r => r.IsSuccess));
        Assert.Equal(5, fake.Calls["SendCommand"]);
        Assert.Equal(5, fake.Calls["ListCommandInvocations"]); // each command fetched once, when all its nodes finished
        Assert.True(fake.Calls["ListCommands"] >= 1);
        Assert.Equal(fake.TotalCalls, summary.ApiCalls);
    }

    [Fact]
    public async Task NodesSsmNeverMovesOnGetTheirOwnErrorAtTheDeadlineAndAreCancelled()
    {
        using var fake = new FakeSsmServer();
        fake.AddNode(new FakeNode(Ssm.Id(1), new SimulatedInstance()) { StaysPending = true });
        fake.AddNode(new FakeNode(Ssm.Id(2), new SimulatedInstance()) { AgentDiesMidCommand = true });
        fake.AddNode(new FakeNode(Ssm.Id(3), new SimulatedInstance()));
        using var client = Ssm.Client(fake.Endpoint);
        // Deadline = delivery (30 s) + execution (1 s) + grace: a grace of -29 s brings it to 2 s for the test.
        var options = new FleetRunnerOptions { PollInterval = TimeSpan.FromMilliseconds(50), StatusGrace = TimeSpan.FromSeconds(-29) };
        var results = new List<FleetNodeResult<string>>();
        var sw = Stopwatch.StartNew();
        await new FleetRunner(client, null, options).RunAsync(new FleetRunRequest { Script = "x", InstanceIds = Ids(3, 1), DeliveryTimeoutSeconds = 30, ExecutionTimeoutSeconds = 1 },
            o => o.Stdout, new DelegateFleetSink<string>(r => { lock (results) { results.Add(r); } }), CancellationToken.None);

        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), sw.Elapsed.ToString());
        var by = results.ToDictionary(r => r.InstanceId);
        Assert.Equal(3, by.Count);
        Assert.Equal(SsmErrorIds.SsmDeliveryTimedOut, by[Ssm.Id(1)].ErrorId);
        Assert.Equal(SsmErrorIds.SsmCommandTimedOut, by[Ssm.Id(2)].ErrorId);
        Assert.Contains("agent stopped reporting", by[Ssm.Id(2)].ErrorMessage);
        Assert.True(by[Ssm.Id(3)].IsSuccess);
        Assert.True(fake.Calls["CancelCommand"] >= 1);
        await fake.WaitIdleAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, fake.Requests.Count(r => r.Operation == "CancelCommand" && !r.Body.Contains(Ssm.Id(1), StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ThrottledCriticalCallsAreRetriedByTheFleetAndPollsAreNot()
    {
        using var fake = new FakeSsmServer(new FakeSsmOptions { ThrottlePercent = 50 });
        foreach (var id in Ids(100))
        {
            fake.AddInstance(id, new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(20) });
        }

        using var client = Ssm.Client(fake.Endpoint);
        var results = new List<FleetNodeResult<string>>();
        var summary = await new FleetRunner(client, null, FleetTests.FastOptions()).RunAsync(new FleetRunRequest { Script = "x", InstanceIds = Ids(100) }, o => o.Stdout,
            new DelegateFleetSink<string>(r => { lock (results) { results.Add(r); } }), CancellationToken.None);
        Assert.Equal(100, results.Count(r => r.IsSuccess));
        Assert.True(summary.ThrottledCalls > 0);
        Assert.Equal(fake.ThrottledCalls, summary.ThrottledCalls); // every throttled call was the runner's own attempt: the SDK retried none
    }
}
