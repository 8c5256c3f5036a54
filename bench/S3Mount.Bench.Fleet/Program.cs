using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Bench.Fleet;

/// <summary>
/// Fan-out of one script to N simulated nodes through the fake SSM: the fleet runner against a naive baseline
/// (one SendCommand per node, one GetCommandInvocation per node per poll), in the same run, counting API calls and wall time.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var nodes = Arg(args, "--nodes", 1000);
        var minLatency = Arg(args, "--min-latency", 1.0);
        var maxLatency = Arg(args, "--max-latency", 8.0);
        var poll = Arg(args, "--poll", 2.0);
        var seed = Arg(args, "--seed", 42);
        var output = ArgS(args, "--out", null);
        var pollInterval = TimeSpan.FromSeconds(poll);
        ApiLatency = TimeSpan.FromMilliseconds(Arg(args, "--api-latency-ms", 0));
        var rng = new Random(seed);
        var ids = Enumerable.Range(0, nodes).Select(i => "i-" + i.ToString("x17", CultureInfo.InvariantCulture)).ToList();
        var latencies = ids.ToDictionary(id => id, _ => TimeSpan.FromSeconds(minLatency + rng.NextDouble() * (maxLatency - minLatency)));
        var slowest = latencies.Values.Max();

        Console.WriteLine($"nodes={nodes} latency={minLatency}-{maxLatency}s (slowest {slowest.TotalSeconds:0.00}s) poll={poll}s api-latency={ApiLatency.TotalMilliseconds}ms cores={Environment.ProcessorCount}");
        var (ours, naive) = await RunPair(ids, latencies, pollInterval);
        var ratio = (double)naive.Calls / ours.Calls;
        var bound = slowest + pollInterval;
        var wallRatio = ours.Wall.TotalSeconds / bound.TotalSeconds;
        var callsOk = ratio >= 25;
        var wallOk = wallRatio <= 1.2;
        Console.WriteLine($"call reduction {ratio:0.0}x (target >= 25x: {(callsOk ? "met" : "MISSED")}); wall {ours.Wall.TotalSeconds:0.00}s = {wallRatio:0.00} x (slowest {slowest.TotalSeconds:0.00}s + poll {poll}s) (target <= 1.2: {(wallOk ? "met" : "MISSED")})");

        var sensitivityMs = Arg(args, "--sensitivity-api-latency-ms", -1);
        (Outcome Ours, Outcome Naive)? sens = null;
        var primaryLatency = ApiLatency;
        if (sensitivityMs >= 0)
        {
            ApiLatency = TimeSpan.FromMilliseconds(sensitivityMs);
            Console.WriteLine($"sensitivity: api-latency={sensitivityMs}ms");
            sens = await RunPair(ids, latencies, pollInterval);
            Console.WriteLine($"sensitivity: call reduction {(double)sens.Value.Naive.Calls / sens.Value.Ours.Calls:0.0}x, wall ratio {sens.Value.Ours.Wall.TotalSeconds / bound.TotalSeconds:0.00}");
        }

        if (output is not null)
        {
            var sb = new StringBuilder();
            sb.AppendLine("# Fleet fan-out benchmark");
            sb.AppendLine();
            sb.AppendLine("Produced by (from the repository root):");
            sb.AppendLine();
            sb.AppendLine("```");
            sb.AppendLine("dotnet run -c Release --project bench/S3Mount.Bench.Fleet -- " + string.Join(" ", args));
            sb.AppendLine("```");
            sb.AppendLine();
            sb.AppendLine($"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}.");
            sb.AppendLine($"{nodes} simulated nodes behind the fake SSM (tests/S3Mount.FakeSsm: real HTTP on 127.0.0.1, SigV4-signed requests, model validation on),");
            sb.AppendLine($"per-node latency uniform {minLatency}-{maxLatency} s (seed {seed}, slowest {slowest.TotalSeconds:0.00} s), no injected throttling, poll interval {poll} s for both;");
            sb.AppendLine("the runner uses its default options otherwise; the baseline makes 16 calls at a time (send all, then poll all every interval).");
            sb.AppendLine();
            sb.AppendLine("| run | added API latency | API calls | by operation | wall time | nodes ok |");
            sb.AppendLine("|---|---:|---:|---|---:|---:|");
            Row(sb, "FleetRunner", primaryLatency, ours, nodes);
            Row(sb, "naive baseline", primaryLatency, naive, nodes);
            if (sens is not null)
            {
                Row(sb, "FleetRunner (sensitivity)", ApiLatency, sens.Value.Ours, nodes);
                Row(sb, "naive baseline (sensitivity)", ApiLatency, sens.Value.Naive, nodes);
            }

            sb.AppendLine();
            sb.AppendLine($"- API calls: **{ratio:0.0}x fewer** than the baseline (target >= 25x: {(callsOk ? "met" : "missed")}).");
            sb.AppendLine($"- Wall time: {ours.Wall.TotalSeconds:0.00} s against slowest node + one poll interval = {bound.TotalSeconds:0.00} s, ratio **{wallRatio:0.00}** (target <= 1.2: {(wallOk ? "met" : "missed")}).");
            if (sens is not null)
            {
                sb.AppendLine($"- Sensitivity ({ApiLatency.TotalMilliseconds:0} ms per API answer): {(double)sens.Value.Naive.Calls / sens.Value.Ours.Calls:0.0}x fewer calls, wall ratio {sens.Value.Ours.Wall.TotalSeconds / bound.TotalSeconds:0.00}. " +
                    "The ratio falls because the baseline's own fan-out (1,000 SendCommands, 16 at a time) takes seconds, so many nodes are already done at its first poll; the runner's count does not change.");
            }

            sb.AppendLine("- The runner's calls include the DescribeInstanceInformation preflight (pages of 50) that the baseline skips.");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            File.WriteAllText(output, sb.ToString());
            Console.WriteLine("wrote " + output);
        }

        return callsOk && wallOk ? 0 : 1;
    }

    private static TimeSpan ApiLatency;

    private static async Task<(Outcome Ours, Outcome Naive)> RunPair(List<string> ids, Dictionary<string, TimeSpan> latencies, TimeSpan poll)
    {
        var ours = await RunOurs(ids, latencies, poll);
        Console.WriteLine($"fleet runner: {ours.Calls} API calls, {ours.Wall.TotalSeconds:0.00}s, {ours.Ok}/{ids.Count} ok  [{Fmt(ours.ByOp)}]");
        var naive = await RunNaive(ids, latencies, poll);
        Console.WriteLine($"naive:        {naive.Calls} API calls, {naive.Wall.TotalSeconds:0.00}s, {naive.Ok}/{ids.Count} ok  [{Fmt(naive.ByOp)}]");
        return (ours, naive);
    }

    private static void Row(StringBuilder sb, string name, TimeSpan latency, Outcome o, int nodes) =>
        sb.AppendLine($"| {name} | {latency.TotalMilliseconds:0} ms | {o.Calls} | {Fmt(o.ByOp)} | {o.Wall.TotalSeconds:0.00} s | {o.Ok}/{nodes} |");

    private sealed record Outcome(int Calls, Dictionary<string, int> ByOp, TimeSpan Wall, int Ok);

    private static FakeSsmServer Fake(List<string> ids, Dictionary<string, TimeSpan> latencies)
    {
        var fake = new FakeSsmServer(new FakeSsmOptions { DeliveryDelay = TimeSpan.FromMilliseconds(20), ApiLatency = ApiLatency });
        foreach (var id in ids)
        {
            fake.AddInstance(id, new SimulatedInstance { Latency = latencies[id] });
        }

        return fake;
    }

    private static async Task<Outcome> RunOurs(List<string> ids, Dictionary<string, TimeSpan> latencies, TimeSpan poll)
    {
        using var fake = Fake(ids, latencies);
        using var client = new SsmHttpClient(ResolvedAwsSettings.FromKeys("AKIDBENCH", "secret", "us-east-1", fake.Endpoint));
        var runner = new FleetRunner(client, null, new FleetRunnerOptions { PollInterval = poll });
        var ok = 0;
        var sw = Stopwatch.StartNew();
        await runner.RunAsync(new FleetRunRequest { Script = "echo hi", InstanceIds = ids }, o => ResultBlock.Parse(o.Stdout),
            new DelegateFleetSink<ResultBlock>(r => { if (r.IsSuccess) { Interlocked.Increment(ref ok); } }), CancellationToken.None);
        sw.Stop();
        return new Outcome(fake.TotalCalls, fake.Calls.ToDictionary(k => k.Key, v => v.Value), sw.Elapsed, ok);
    }

    private static async Task<Outcome> RunNaive(List<string> ids, Dictionary<string, TimeSpan> latencies, TimeSpan poll)
    {
        using var fake = Fake(ids, latencies);
        using var client = new SsmHttpClient(ResolvedAwsSettings.FromKeys("AKIDBENCH", "secret", "us-east-1", fake.Endpoint));
        using var gate = new SemaphoreSlim(16);
        var sw = Stopwatch.StartNew();
        var commands = new Dictionary<string, string>();
        var commandsParam = new Dictionary<string, IReadOnlyList<string>> { ["commands"] = ScriptEncoding.ToCommands("echo hi") };
        await Task.WhenAll(ids.Select(async id =>
        {
            await gate.WaitAsync();
            try
            {
                var c = await client.SendCommandAsync(new SendCommandRequest { InstanceIds = new[] { id }, Parameters = commandsParam }, CancellationToken.None);
                lock (commands)
                {
                    commands[id] = c.CommandId;
                }
            }
            finally
            {
                gate.Release();
            }
        }));

        var pending = new HashSet<string>(ids);
        var ok = 0;
        while (pending.Count > 0)
        {
            await Task.Delay(poll);
            var done = new List<string>();
            await Task.WhenAll(pending.ToList().Select(async id =>
            {
                await gate.WaitAsync();
                try
                {
                    var r = await client.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = commands[id], InstanceId = id }, CancellationToken.None);
                    if (SsmStatus.IsTerminal(r.Status))
                    {
                        lock (done)
                        {
                            done.Add(id);
                            if (r.Status == SsmStatus.Success)
                            {
                                ok++;
                            }
                        }
                    }
                }
                catch (SsmInvocationDoesNotExistException)
                {
                }
                finally
                {
                    gate.Release();
                }
            }));
            pending.ExceptWith(done);
        }

        sw.Stop();
        return new Outcome(fake.TotalCalls, fake.Calls.ToDictionary(k => k.Key, v => v.Value), sw.Elapsed, ok);
    }

    private static string Fmt(Dictionary<string, int> byOp) => string.Join(", ", byOp.OrderBy(k => k.Key).Select(k => k.Key + " " + k.Value));

    private static int Arg(string[] a, string name, int def) => ArgS(a, name, null) is string s ? int.Parse(s, CultureInfo.InvariantCulture) : def;

    private static double Arg(string[] a, string name, double def) => ArgS(a, name, null) is string s ? double.Parse(s, CultureInfo.InvariantCulture) : def;

    private static string? ArgS(string[] a, string name, string? def)
    {
        var i = Array.IndexOf(a, name);
        return i >= 0 && i + 1 < a.Length ? a[i + 1] : def;
    }
}
