using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Amazon.Runtime;
using Amazon.SimpleSystemsManagement;
using Amazon.SimpleSystemsManagement.Model;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Install;
using S3Mount.Engine.Node;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Bench.Fleet;

/// <summary>
/// Fan-out of one script to N simulated nodes through the fake SSM (real HTTP, SigV4, model validation, injected
/// throttling, undeliverable and failing nodes): the fleet runner against a naive loop (one SendCommand per node, one
/// GetCommandInvocation per pending node per poll, the official client with its defaults), in the same run. Modes:
/// <list type="bullet">
/// <item>default: runner and naive loop at each added API latency (<c>--api-latency-ms 0,50</c>);</item>
/// <item><c>--throttle-policy</c>: the runner under the two throttle policies (the fleet's pacing, the SDK's retry budget) at each <c>--throttle</c>;</item>
/// <item><c>--parallel-calls 8,16,32</c>: the runner alone with each <see cref="FleetRunnerOptions.MaxParallelCalls"/> at each added API latency (no naive loop);</item>
/// <item><c>--pwsh PATH</c>: the module's Get-MountpointS3 in a pwsh process against the fake, with its peak working set.</item>
/// </list>
/// </summary>
public static class Program
{
    private const string AccessKey = "AKIDBENCH00000000001";
    private const string SecretKey = "bench/secret/key/00000000000000000000000";

    public static async Task<int> Main(string[] args)
    {
        var o = new BenchOptions(args);
        var sb = new StringBuilder();
        var loadBefore = LoadAverage();

        // Warm up (not measured): the first SDK client, endpoint rules and Kestrel in a process cost seconds once.
        var warm = MakeFleet(new BenchOptions(new[] { "--nodes", "60", "--min-latency", "0.1", "--max-latency", "0.2" }));
        await RunOursAsync(warm, 0, TimeSpan.Zero, TimeSpan.FromMilliseconds(200));
        await RunNaiveAsync(warm, 0, TimeSpan.Zero, TimeSpan.FromMilliseconds(200));
        var ok = o.Mode switch
        {
            "throttle-policy" => await ThrottlePolicyAsync(o, sb),
            "pwsh" => await PwshAsync(o, sb),
            "parallel-calls" => await ParallelCallsAsync(o, sb),
            _ => await CompareAsync(o, sb),
        };
        if (o.Out is not null)
        {
            var header = new StringBuilder();
            header.AppendLine("Produced by (from the repository root, after `dotnet build S3Mount.slnx`):");
            header.AppendLine();
            header.AppendLine("```");
            header.AppendLine("dotnet run -c Release --project bench/S3Mount.Bench.Fleet -- " + string.Join(" ", args));
            header.AppendLine("```");
            header.AppendLine();
            header.AppendLine($"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores (shared: 1-minute load average {loadBefore} before, {LoadAverage()} after), {Environment.OSVersion}, .NET {Environment.Version}.");
            header.AppendLine($"{o.Nodes} simulated nodes behind the fake SSM (tests/S3Mount.FakeSsm: Kestrel on 127.0.0.1, SigV4 checked, every request validated against botocore's model), " +
                $"per-node latency uniform {o.MinLatency}-{o.MaxLatency} s (seed {o.Seed}), {o.UndeliverablePercent}% undeliverable, {o.FailingPercent}% failing (exit 3 with an error record), " +
                $"ThrottlingException on {string.Join("/", o.Throttle)}% of calls, poll interval {o.Poll} s. API calls are counted by the fake (throttled calls included).");
            header.AppendLine();
            var text = sb.ToString();
            var title = text.Substring(0, text.IndexOf('\n') + 1);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(o.Out))!);
            File.WriteAllText(o.Out, title + "\n" + header + text.Substring(title.Length).TrimStart('\n'));
            Console.WriteLine("wrote " + o.Out);
        }

        return ok ? 0 : 1;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    private sealed record Outcome(int Calls, Dictionary<string, int> ByOp, int Throttled, TimeSpan Wall, int Ok, int Failed, int Results, int ExpectedOk, string Notes);

    private sealed class Fleet
    {
        public List<string> Ids { get; } = new();
        public Dictionary<string, TimeSpan> Latency { get; } = new();
        public HashSet<string> Undeliverable { get; } = new();
        public HashSet<string> Failing { get; } = new();
        public TimeSpan Slowest => Latency.Where(kv => !Undeliverable.Contains(kv.Key)).Select(kv => kv.Value).DefaultIfEmpty().Max();
        public int ExpectedOk => Ids.Count - Undeliverable.Count - Failing.Count;
    }

    private static Fleet MakeFleet(BenchOptions o)
    {
        var rng = new Random(o.Seed);
        var f = new Fleet();
        for (var i = 0; i < o.Nodes; i++)
        {
            var id = "i-" + i.ToString("x17", CultureInfo.InvariantCulture);
            f.Ids.Add(id);
            f.Latency[id] = TimeSpan.FromSeconds(o.MinLatency + rng.NextDouble() * (o.MaxLatency - o.MinLatency));
            var roll = rng.Next(100);
            if (roll < o.UndeliverablePercent)
            {
                f.Undeliverable.Add(id);
            }
            else if (roll < o.UndeliverablePercent + o.FailingPercent)
            {
                f.Failing.Add(id);
            }
        }

        return f;
    }

    private static FakeSsmServer Fake(Fleet f, int throttle, TimeSpan apiLatency, Func<string, string>? stdout = null)
    {
        var fake = new FakeSsmServer(new FakeSsmOptions
        {
            DeliveryDelay = TimeSpan.FromMilliseconds(20),
            ApiLatency = apiLatency,
            SecretKeys = new Dictionary<string, string> { [AccessKey] = SecretKey },
        });
        foreach (var id in f.Ids)
        {
            fake.AddNode(new FakeNode(id, new SimulatedInstance { Latency = f.Latency[id], ExitCode = f.Failing.Contains(id) ? 3 : 0, Stdout = f.Failing.Contains(id) ? null : stdout })
            {
                Undeliverable = f.Undeliverable.Contains(id),
            });
        }

        fake.Options.ThrottlePercent = throttle;
        return fake;
    }

    private static ResolvedAwsSettings Settings(FakeSsmServer fake) => ResolvedAwsSettings.FromKeys(AccessKey, SecretKey, "us-east-1", fake.Endpoint);

    private static async Task<Outcome> RunOursAsync(Fleet f, int throttle, TimeSpan apiLatency, TimeSpan poll, bool sdkBudget = false, int? parallelCalls = null)
    {
        using var fake = Fake(f, throttle, apiLatency);
        using var sdk = new SsmClient(Settings(fake), new SsmClientOptions { SdkRetriesThrottling = sdkBudget });
        var sw = Stopwatch.StartNew();
        var client = new TimedSsmClient(sdk, sw);
        var runner = new FleetRunner(client, null, new FleetRunnerOptions
        {
            PollInterval = poll,
            ThrottleAttempts = sdkBudget ? 1 : 10,
            MaxParallelCalls = parallelCalls ?? new FleetRunnerOptions().MaxParallelCalls,
        });
        var results = new ConcurrentDictionary<string, FleetNodeResult<bool>>();
        var duplicates = 0;
        var lastResult = TimeSpan.Zero;
        sw.Restart();
        await runner.RunAsync(new FleetRunRequest { Script = "echo hi", InstanceIds = f.Ids }, _ => true,
            new DelegateFleetSink<bool>(r =>
            {
                if (!results.TryAdd(r.InstanceId, r))
                {
                    Interlocked.Increment(ref duplicates);
                }

                lock (results)
                {
                    lastResult = sw.Elapsed;
                }
            }), CancellationToken.None);
        sw.Stop();
        var wrong = results.Values.Count(r => r.IsSuccess != (!f.Undeliverable.Contains(r.InstanceId) && !f.Failing.Contains(r.InstanceId)));
        var byId = results.Values.Where(r => !r.IsSuccess).GroupBy(r => r.ErrorId).OrderBy(g => g.Key).Select(g => g.Key + " " + g.Count());
        return new Outcome(fake.TotalCalls, fake.Calls.ToDictionary(k => k.Key, v => v.Value), fake.ThrottledCalls, sw.Elapsed,
            results.Values.Count(r => r.IsSuccess), results.Values.Count(r => !r.IsSuccess), results.Count, f.ExpectedOk,
            $"last SendCommand answered at {client.LastSend.TotalSeconds:0.00} s, last result at {lastResult.TotalSeconds:0.00} s; errors: " + string.Join(", ", byId) + (duplicates > 0 ? $"; {duplicates} DUPLICATE results" : string.Empty) + (wrong > 0 ? $"; {wrong} nodes with the WRONG outcome" : string.Empty));
    }

    /// <summary>The runner's SSM client, noting when the last SendCommand was answered (the last batch's nodes start then).</summary>
    private sealed class TimedSsmClient : ISsmClient
    {
        private readonly ISsmClient _inner;
        private readonly Stopwatch _clock;
        private long _lastSendTicks;

        public TimedSsmClient(ISsmClient inner, Stopwatch clock)
        {
            _inner = inner;
            _clock = clock;
        }

        public TimeSpan LastSend => TimeSpan.FromTicks(Interlocked.Read(ref _lastSendTicks));

        public async Task<Command> SendCommandAsync(SendCommandRequest request, CancellationToken cancellationToken)
        {
            var c = await _inner.SendCommandAsync(request, cancellationToken).ConfigureAwait(false);
            var now = _clock.Elapsed.Ticks;
            long seen;
            while (now > (seen = Interlocked.Read(ref _lastSendTicks)) && Interlocked.CompareExchange(ref _lastSendTicks, now, seen) != seen)
            {
            }

            return c;
        }

        public IAsyncEnumerable<ListCommandInvocationsResponse> ListCommandInvocationsAsync(ListCommandInvocationsRequest request, CancellationToken cancellationToken) => _inner.ListCommandInvocationsAsync(request, cancellationToken);

        public Task<GetCommandInvocationResponse> GetCommandInvocationAsync(GetCommandInvocationRequest request, CancellationToken cancellationToken) => _inner.GetCommandInvocationAsync(request, cancellationToken);

        public Task CancelCommandAsync(CancelCommandRequest request, CancellationToken cancellationToken) => _inner.CancelCommandAsync(request, cancellationToken);

        public IAsyncEnumerable<DescribeInstanceInformationResponse> DescribeInstanceInformationAsync(DescribeInstanceInformationRequest request, CancellationToken cancellationToken) => _inner.DescribeInstanceInformationAsync(request, cancellationToken);

        public IAsyncEnumerable<ListCommandsResponse> ListCommandsAsync(ListCommandsRequest request, CancellationToken cancellationToken) => _inner.ListCommandsAsync(request, cancellationToken);
    }

    /// <summary>What an admin writes without S3Mount: one SendCommand per node, then GetCommandInvocation per pending node every poll, the SDK as it comes.</summary>
    private static async Task<Outcome> RunNaiveAsync(Fleet f, int throttle, TimeSpan apiLatency, TimeSpan poll)
    {
        using var fake = Fake(f, throttle, apiLatency);
        using var client = new AmazonSimpleSystemsManagementClient(new BasicAWSCredentials(AccessKey, SecretKey),
            new AmazonSimpleSystemsManagementConfig { ServiceURL = fake.Endpoint.ToString(), AuthenticationRegion = "us-east-1" });
        using var gate = new SemaphoreSlim(16);
        var sw = Stopwatch.StartNew();
        var commands = new ConcurrentDictionary<string, string>();
        var failed = 0;
        var parameters = new Dictionary<string, List<string>> { ["commands"] = ScriptEncoding.ToCommands("echo hi").ToList() };
        await Task.WhenAll(f.Ids.Select(async id =>
        {
            await gate.WaitAsync();
            try
            {
                var c = await client.SendCommandAsync(new SendCommandRequest { DocumentName = "AWS-RunShellScript", InstanceIds = new List<string> { id }, Parameters = parameters });
                commands[id] = c.Command.CommandId;
            }
            catch (AmazonServiceException)
            {
                Interlocked.Increment(ref failed);
            }
            finally
            {
                gate.Release();
            }
        }));

        var pending = new HashSet<string>(commands.Keys);
        var ok = 0;
        var bad = 0;
        while (pending.Count > 0)
        {
            await Task.Delay(poll);
            var done = new ConcurrentBag<string>();
            await Task.WhenAll(pending.ToList().Select(async id =>
            {
                await gate.WaitAsync();
                try
                {
                    var r = await client.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = commands[id], InstanceId = id });
                    var status = r.Status?.Value;
                    if (SsmStatus.IsTerminal(status))
                    {
                        done.Add(id);
                        if (status == SsmStatus.Success)
                        {
                            Interlocked.Increment(ref ok);
                        }
                        else
                        {
                            Interlocked.Increment(ref bad);
                        }
                    }
                }
                catch (AmazonServiceException)
                {
                    // InvocationDoesNotExist right after sending, or throttled: ask again next round.
                }
                finally
                {
                    gate.Release();
                }
            }));
            pending.ExceptWith(done);
        }

        sw.Stop();
        return new Outcome(fake.TotalCalls, fake.Calls.ToDictionary(k => k.Key, v => v.Value), fake.ThrottledCalls, sw.Elapsed, ok, bad + failed, ok + bad + failed, f.ExpectedOk,
            failed > 0 ? $"{failed} SendCommands failed for good (the SDK's retries and budget ran out)" : string.Empty);
    }

    private static string Fmt(Dictionary<string, int> byOp) => string.Join(", ", byOp.OrderBy(k => k.Key).Select(k => k.Key + " " + k.Value));

    private static void Row(StringBuilder sb, string name, TimeSpan latency, int throttle, Outcome x) =>
        sb.AppendLine($"| {name} | {latency.TotalMilliseconds:0} ms | {throttle}% | {x.Calls} ({x.Throttled} throttled) | {Fmt(x.ByOp)} | {x.Wall.TotalSeconds:0.00} s | {x.Ok}/{x.ExpectedOk} ok, {x.Failed} failed, {x.Results} results | {x.Notes} |");

    private static async Task<bool> CompareAsync(BenchOptions o, StringBuilder sb)
    {
        var f = MakeFleet(o);
        var poll = TimeSpan.FromSeconds(o.Poll);
        var throttle = o.Throttle[0];
        var bound = f.Slowest + poll;
        Console.WriteLine($"nodes={o.Nodes} slowest={f.Slowest.TotalSeconds:0.00}s throttle={throttle}% undeliverable={f.Undeliverable.Count} failing={f.Failing.Count} cores={Environment.ProcessorCount}");
        sb.AppendLine("# Fleet fan-out benchmark: " + o.Nodes.ToString("N0", CultureInfo.InvariantCulture) + " nodes");
        sb.AppendLine();
        sb.AppendLine("| run | added API latency | throttling | API calls | by operation | wall time | results | notes |");
        sb.AppendLine("|---|---:|---:|---:|---|---:|---|---|");
        var lines = new List<string>();
        var allOk = true;
        foreach (var ms in o.ApiLatencyMs)
        {
            var latency = TimeSpan.FromMilliseconds(ms);
            var ours = await RunOursAsync(f, throttle, latency, poll);
            Console.WriteLine($"runner  {ms}ms: {ours.Calls} calls, {ours.Wall.TotalSeconds:0.00}s, {ours.Ok}/{ours.ExpectedOk} ok [{Fmt(ours.ByOp)}] {ours.Notes}");
            var naive = await RunNaiveAsync(f, throttle, latency, poll);
            Console.WriteLine($"naive   {ms}ms: {naive.Calls} calls, {naive.Wall.TotalSeconds:0.00}s, {naive.Ok}/{naive.ExpectedOk} ok [{Fmt(naive.ByOp)}] {naive.Notes}");
            Row(sb, "FleetRunner", latency, throttle, ours);
            Row(sb, "naive loop", latency, throttle, naive);
            var ratio = (double)naive.Calls / ours.Calls;
            var wallRatio = ours.Wall.TotalSeconds / bound.TotalSeconds;
            var callsOk = ratio >= 25;
            var wallOk = wallRatio <= 1.2 && ours.Wall <= naive.Wall;
            var correct = ours.Results == o.Nodes && ours.Ok == f.ExpectedOk && !ours.Notes.Contains("DUPLICATE") && !ours.Notes.Contains("WRONG");
            allOk &= callsOk && wallOk && correct;
            lines.Add($"- {ms} ms added API latency: **{ratio:0.0}x fewer calls** than the naive loop (target >= 25x: {(callsOk ? "met" : "MISSED")}); " +
                $"wall {ours.Wall.TotalSeconds:0.00} s = **{wallRatio:0.00}x** (slowest node {f.Slowest.TotalSeconds:0.00} s + one poll {o.Poll} s) (target <= 1.2: {(wallRatio <= 1.2 ? "met" : "MISSED")}), " +
                $"naive loop {naive.Wall.TotalSeconds:0.00} s: runner/naive **{ours.Wall.TotalSeconds / naive.Wall.TotalSeconds:0.00}** (target <= 1: {(ours.Wall <= naive.Wall ? "met" : "MISSED")}); " +
                $"exactly one correct result per node: {(correct ? "yes" : "NO")}.");
            Console.WriteLine(lines[^1]);
        }

        sb.AppendLine();
        foreach (var l in lines)
        {
            sb.AppendLine(l);
        }

        sb.AppendLine("- The runner's calls include the DescribeInstanceInformation preflight (pages of 50) that the naive loop skips; the naive loop's failed results are nodes whose SendCommand or final poll the SDK gave up on.");
        return allOk;
    }

    private static async Task<bool> ThrottlePolicyAsync(BenchOptions o, StringBuilder sb)
    {
        var f = MakeFleet(o);
        var poll = TimeSpan.FromSeconds(o.Poll);
        sb.AppendLine("# Throttle policy: the fleet's pacing against the SDK's retry budget");
        sb.AppendLine();
        sb.AppendLine("Both runs use AWSSDK.SimpleSystemsManagement in standard retry mode set in code (3 attempts). **fleet pacing**: the SDK never retries");
        sb.AppendLine("throttling and keeps no budget; the runner tries a throttled SendCommand, preflight or sweep page, GetCommandInvocation or CancelCommand up to 10 times");
        sb.AppendLine("with full-jitter back-off (100 ms doubling, 10 s cap), and a throttled poll is the next poll. **SDK budget**: the SDK retries throttling within");
        sb.AppendLine("its standard budget (ThrottleRetries on, the SDK default) and the runner adds nothing.");
        sb.AppendLine();
        sb.AppendLine("| policy | added API latency | throttling | API calls | by operation | wall time | results | notes |");
        sb.AppendLine("|---|---:|---:|---:|---|---:|---|---|");
        foreach (var throttle in o.Throttle)
        {
            foreach (var sdk in new[] { false, true })
            {
                var x = await RunOursAsync(f, throttle, TimeSpan.FromMilliseconds(o.ApiLatencyMs[0]), poll, sdkBudget: sdk);
                Console.WriteLine($"{(sdk ? "sdk-budget" : "fleet-pacing")} {throttle}%: {x.Calls} calls, {x.Wall.TotalSeconds:0.00}s, {x.Ok}/{x.ExpectedOk} ok {x.Notes}");
                Row(sb, sdk ? "SDK budget" : "fleet pacing", TimeSpan.FromMilliseconds(o.ApiLatencyMs[0]), throttle, x);
            }
        }

        return true;
    }

    /// <summary>The runner alone at each MaxParallelCalls: how much of the wall time is the call budget (preflight and sends before the last batch starts).</summary>
    private static async Task<bool> ParallelCallsAsync(BenchOptions o, StringBuilder sb)
    {
        var f = MakeFleet(o);
        var poll = TimeSpan.FromSeconds(o.Poll);
        var throttle = o.Throttle[0];
        var bound = f.Slowest + poll;
        sb.AppendLine("# Fleet runner by concurrent API calls: " + o.Nodes.ToString("N0", CultureInfo.InvariantCulture) + " nodes");
        sb.AppendLine();
        sb.AppendLine($"The runner alone (no naive loop) with `FleetRunnerOptions.MaxParallelCalls` = {string.Join(", ", o.ParallelCalls)} (default {new FleetRunnerOptions().MaxParallelCalls}). " +
            "The fake throttles a fixed share of calls whatever their rate; real SSM throttles by rate per account and region, so more parallel calls there also mean more throttling, which this run cannot show.");
        sb.AppendLine();
        sb.AppendLine("| parallel calls | added API latency | throttling | API calls | by operation | wall time | wall / (slowest node + one poll) | results | notes |");
        sb.AppendLine("|---:|---:|---:|---:|---|---:|---:|---|---|");
        foreach (var ms in o.ApiLatencyMs)
        {
            foreach (var n in o.ParallelCalls)
            {
                var x = await RunOursAsync(f, throttle, TimeSpan.FromMilliseconds(ms), poll, parallelCalls: n);
                Console.WriteLine($"parallel {n} {ms}ms: {x.Calls} calls, {x.Wall.TotalSeconds:0.00}s, {x.Ok}/{x.ExpectedOk} ok {x.Notes}");
                sb.AppendLine($"| {n} | {ms} ms | {throttle}% | {x.Calls} ({x.Throttled} throttled) | {Fmt(x.ByOp)} | {x.Wall.TotalSeconds:0.00} s | {x.Wall.TotalSeconds / bound.TotalSeconds:0.00}x | {x.Ok}/{x.ExpectedOk} ok, {x.Failed} failed, {x.Results} results | {x.Notes} |");
            }
        }

        return true;
    }

    private static async Task<bool> PwshAsync(BenchOptions o, StringBuilder sb)
    {
        var f = MakeFleet(o);
        var pwsh = o.Pwsh!;
        var manifest = Path.GetFullPath(Path.Combine("out", "S3Mount", "S3Mount.psd1"));
        var report = await new LocalScriptRunner().RunAsync(InstallOperations.Report());
        using var fake = Fake(f, o.Throttle[0], TimeSpan.FromMilliseconds(o.ApiLatencyMs[0]), _ => report.Stdout);
        var idsFile = Path.GetTempFileName();
        File.WriteAllLines(idsFile, f.Ids);
        var script =
            "$ErrorActionPreference='Continue'; $ProgressPreference='SilentlyContinue'; Import-Module '" + manifest + "'; $ids = [IO.File]::ReadAllLines('" + idsFile + "'); " +
            "$sw = [Diagnostics.Stopwatch]::StartNew(); " +
            "$objects = Get-MountpointS3 -InstanceId $ids -EndpointUrl '" + fake.Endpoint + "' -Region us-east-1 -AccessKey " + AccessKey + " -SecretKey '" + SecretKey + "' -ErrorAction SilentlyContinue -ErrorVariable errs; " +
            "$sw.Stop(); $p = [Diagnostics.Process]::GetCurrentProcess(); " +
            "[pscustomobject]@{ Objects = @($objects).Count; Distinct = @($objects.InstanceId | Sort-Object -Unique).Count; Errors = $errs.Count; ErrorIds = @($errs | Group-Object { $_.FullyQualifiedErrorId.Split(',')[0] } | ForEach-Object { $_.Name + ' ' + $_.Count }); Wall = $sw.Elapsed.TotalSeconds; PeakWorkingSet = $p.PeakWorkingSet64; Pid = $p.Id; ProcessPath = [Environment]::ProcessPath } | ConvertTo-Json -Compress";
        var psi = new ProcessStartInfo(pwsh) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-NoProfile", "-NonInteractive", "-Command", script })
        {
            psi.ArgumentList.Add(a);
        }

        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        sw.Stop();
        File.Delete(idsFile);
        var line = (await stdout).Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("{", StringComparison.Ordinal));
        if (line is null)
        {
            Console.WriteLine("pwsh printed no result: " + await stdout + await stderr);
            return false;
        }

        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        var peak = r.GetProperty("PeakWorkingSet").GetInt64() / (1024.0 * 1024.0);
        var objects = r.GetProperty("Objects").GetInt32();
        var errors = r.GetProperty("Errors").GetInt32();
        var wall = r.GetProperty("Wall").GetDouble();
        var ids = string.Join(", ", r.GetProperty("ErrorIds").EnumerateArray().Select(e => e.GetString()));
        var calls = fake.TotalCalls;
        // The dotnet tool's pwsh is a shim that starts the real pwsh (dotnet pwsh.dll) as its child: the peak is read
        // inside the session, from the process that runs the module, never from the shim.
        var measuredPid = r.GetProperty("Pid").GetInt32();
        var measured = measuredPid == p.Id ? $"the started process itself (pid {measuredPid})" : $"{r.GetProperty("ProcessPath").GetString()} pid {measuredPid}, not the started {Path.GetFileName(pwsh)} (pid {p.Id}, a launcher)";
        sb.AppendLine("# Fleet through a pwsh session: " + o.Nodes.ToString("N0", CultureInfo.InvariantCulture) + " nodes");
        sb.AppendLine();
        sb.AppendLine($"`Get-MountpointS3 -InstanceId <{o.Nodes} ids>` in `{pwsh} -NoProfile`, the module from `out/S3Mount`, the objects kept in a variable; the nodes answer with this machine's report block.");
        sb.AppendLine();
        sb.AppendLine("| objects | distinct instance ids | errors | error ids | API calls | by operation | cmdlet wall time | pwsh process | pwsh peak working set |");
        sb.AppendLine("|---:|---:|---:|---|---:|---|---:|---:|---:|");
        sb.AppendLine($"| {objects} | {r.GetProperty("Distinct").GetInt32()} | {errors} | {ids} | {calls} ({fake.ThrottledCalls} throttled) | {Fmt(fake.Calls.ToDictionary(k => k.Key, v => v.Value))} | {wall:0.00} s | {sw.Elapsed.TotalSeconds:0.00} s | **{peak:0} MB** |");
        sb.AppendLine();
        var okCount = objects + errors == o.Nodes && objects == f.ExpectedOk;
        sb.AppendLine($"- One object or one error per node: {(okCount ? "yes" : "NO")} ({objects} + {errors} = {objects + errors} of {o.Nodes}; expected {f.ExpectedOk} objects).");
        sb.AppendLine($"- Peak working set read in the session ([Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64, VmHWM on Linux) of {measured}.");
        sb.AppendLine($"- Peak working set {peak:0} MB (target < 300 MB: {(peak < 300 ? "met" : "MISSED")}); wall {wall:0.00} s = {wall / (f.Slowest.TotalSeconds + o.Poll):0.00}x (slowest node {f.Slowest.TotalSeconds:0.00} s + one poll {o.Poll} s).");
        Console.WriteLine(sb.ToString());
        return okCount && peak < 300;
    }

    private sealed class BenchOptions
    {
        public BenchOptions(string[] a)
        {
            Nodes = Int(a, "--nodes", 1000);
            MinLatency = Dbl(a, "--min-latency", 1.0);
            MaxLatency = Dbl(a, "--max-latency", 8.0);
            Poll = Dbl(a, "--poll", 2.0);
            Seed = Int(a, "--seed", 42);
            UndeliverablePercent = Int(a, "--undeliverable", 5);
            FailingPercent = Int(a, "--failing", 5);
            Throttle = List(a, "--throttle", "20");
            ApiLatencyMs = List(a, "--api-latency-ms", "0,50");
            Out = Str(a, "--out");
            Pwsh = Str(a, "--pwsh");
            ParallelCalls = Str(a, "--parallel-calls") is null ? Array.Empty<int>() : List(a, "--parallel-calls", string.Empty);
            Mode = a.Contains("--throttle-policy") ? "throttle-policy" : Pwsh is not null ? "pwsh" : ParallelCalls.Length > 0 ? "parallel-calls" : "compare";
        }

        public int Nodes { get; }
        public double MinLatency { get; }
        public double MaxLatency { get; }
        public double Poll { get; }
        public int Seed { get; }
        public int UndeliverablePercent { get; }
        public int FailingPercent { get; }
        public int[] Throttle { get; }
        public int[] ApiLatencyMs { get; }
        public string? Out { get; }
        public string? Pwsh { get; }
        public int[] ParallelCalls { get; }
        public string Mode { get; }

        private static string? Str(string[] a, string name)
        {
            var i = Array.IndexOf(a, name);
            return i >= 0 && i + 1 < a.Length ? a[i + 1] : null;
        }

        private static int Int(string[] a, string name, int def) => Str(a, name) is string s ? int.Parse(s, CultureInfo.InvariantCulture) : def;

        private static double Dbl(string[] a, string name, double def) => Str(a, name) is string s ? double.Parse(s, CultureInfo.InvariantCulture) : def;

        private static int[] List(string[] a, string name, string def) => (Str(a, name) ?? def).Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
    }
}
