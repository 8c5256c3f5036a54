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
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Bench.Sync;

/// <summary>
/// A mount map of M mounts converged on N simulated nodes through the fake SSM: Sync's way (the one sync script for
/// every node, through the fleet runner: one SendCommand per 50 nodes) against the naive per-node-per-mount loop (one
/// SendCommand per node and mount, one GetCommandInvocation per invocation per poll), in the same run, counting API calls.
/// The simulated nodes answer with what the real scripts print: the sync and create scripts are run once on an offline
/// image root first, and their result blocks (measured here: the output sizes) are what every node returns.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var nodes = Arg(args, "--nodes", 1000);
        var mounts = Arg(args, "--mounts", 8);
        var minLatency = Arg(args, "--min-latency", 1.0);
        var maxLatency = Arg(args, "--max-latency", 4.0);
        var poll = TimeSpan.FromSeconds(Arg(args, "--poll", 2.0));
        var seed = Arg(args, "--seed", 42);
        var output = ArgS(args, "--out");

        var specs = Enumerable.Range(1, mounts).Select(i => MountSpec.Create("fleet-bucket-" + i, "/mnt/fleet/data-" + i,
            options: new MountOptions { ReadOnly = true, AllowOther = true, BucketRegion = "us-east-1", CacheDirectory = "/var/cache/s3/" + i, MaxCacheSizeMiB = 4096 }, user: "ec2-user")).ToList();
        var map = MountMap.FromSpecs(specs);
        var sync = NodeOperations.Sync(new SyncRequest(map) { Apply = true });
        var creates = specs.Select(s => NodeOperations.Create(new CreateRequest(s))).ToList();
        var sizes = await RealOutputs(specs, map);

        var rng = new Random(seed);
        var ids = Enumerable.Range(0, nodes).Select(i => "i-" + i.ToString("x17", CultureInfo.InvariantCulture)).ToList();
        var latency = ids.ToDictionary(id => id, _ => TimeSpan.FromSeconds(minLatency + rng.NextDouble() * (maxLatency - minLatency)));
        Console.WriteLine($"nodes={nodes} mounts={mounts} node latency {minLatency}-{maxLatency}s (a mount 1/{mounts} of it) poll={poll.TotalSeconds}s cores={Environment.ProcessorCount}");
        Console.WriteLine($"sync script {sync.Text.Length} characters; node output for {mounts} mounts: created {sizes.Created}, in sync {sizes.InSync}, all drifted and updated {sizes.Updated} (SSM inline limit 2,500)");

        var ours = await RunSync(ids, latency, poll, sync, map, sizes.CreatedText);
        Console.WriteLine($"Sync:  {ours.Calls} API calls, {ours.Wall.TotalSeconds:0.00}s, {ours.Ok}/{nodes} nodes converged  [{Fmt(ours.ByOp)}]");
        var naive = await RunNaive(ids, latency, poll, creates, mounts, sizes.CreateText);
        Console.WriteLine($"naive: {naive.Calls} API calls, {naive.Wall.TotalSeconds:0.00}s, {naive.Ok}/{nodes * mounts} creates ok  [{Fmt(naive.ByOp)}]");
        var ratio = (double)naive.Calls / ours.Calls;
        var met = ratio >= 25 && ours.Ok == nodes && ours.ByOp.GetValueOrDefault("SendCommand") == (nodes + 49) / 50;
        Console.WriteLine($"Sync makes {ratio:0.0}x fewer API calls (target: at most 1/25 of the naive loop: {(met ? "met" : "MISSED")})");

        if (output is not null)
        {
            var sb = new StringBuilder();
            sb.AppendLine("# Mount-map convergence benchmark");
            sb.AppendLine();
            sb.AppendLine("Produced by (from the repository root):");
            sb.AppendLine();
            sb.AppendLine("```");
            sb.AppendLine("dotnet run -c Release --project bench/S3Mount.Bench.Sync -- " + string.Join(" ", args));
            sb.AppendLine("```");
            sb.AppendLine();
            sb.AppendLine($"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}.");
            sb.AppendLine($"{nodes} simulated nodes behind the fake SSM (tests/S3Mount.FakeSsm: real HTTP on 127.0.0.1, SigV4, model validation), a map of {mounts} mounts");
            sb.AppendLine($"(read-only, allow-other, region, cache with a size cap, user ec2-user). Each node takes {minLatency}-{maxLatency} s (uniform, seed {seed}) for the whole map;");
            sb.AppendLine($"in the naive loop each create takes 1/{mounts} of its node's time. Both poll every {poll.TotalSeconds} s. Every node answers with the output the real script printed");
            sb.AppendLine("on an offline image root (created below), and every answer is parsed as the cmdlets parse it.");
            sb.AppendLine();
            sb.AppendLine("| run | what is sent | API calls | by operation | wall time | ok |");
            sb.AppendLine("|---|---|---:|---|---:|---:|");
            sb.AppendLine($"| Sync-S3MountService | one sync script (all {mounts} mounts) to every node, fleet runner | {ours.Calls} | {Fmt(ours.ByOp)} | {ours.Wall.TotalSeconds:0.00} s | {ours.Ok}/{nodes} nodes |");
            sb.AppendLine($"| naive loop | one create per node and mount, polled per invocation (16 calls at a time) | {naive.Calls} | {Fmt(naive.ByOp)} | {naive.Wall.TotalSeconds:0.00} s | {naive.Ok}/{nodes * mounts} creates |");
            sb.AppendLine();
            sb.AppendLine($"- API calls: **{ratio:0.0}x fewer** than the naive loop (target: at most 1/25 of it: {(met ? "met" : "missed")}); {ours.ByOp.GetValueOrDefault("SendCommand")} SendCommands for {nodes} nodes (one per 50).");
            sb.AppendLine($"- The sync script for {mounts} mounts is {sync.Text.Length:N0} characters (every mount's unit travels base64-encoded with it).");
            sb.AppendLine($"- A node's output for {mounts} mounts: **{sizes.Created:N0}** characters when it creates all of them, **{sizes.InSync:N0}** when all are in sync (SSM returns 2,500 inline);");
            sb.AppendLine($"  **{sizes.Updated:N0}** when all {mounts} are drifted and updated (the old unit lines of each travel back for the differences), which the fleet runner reads with GetCommandInvocation (24,000).");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            File.WriteAllText(output, sb.ToString());
            Console.WriteLine("wrote " + output);
        }

        return met ? 0 : 1;
    }

    private sealed record Outcome(int Calls, Dictionary<string, int> ByOp, TimeSpan Wall, int Ok);

    private sealed record Sizes(int Created, int InSync, int Updated, string CreatedText, string CreateText);

    /// <summary>Runs the real scripts on an offline image root: the sync of the map (created, then in sync, then all drifted), and one create.</summary>
    private static async Task<Sizes> RealOutputs(List<MountSpec> specs, MountMap map)
    {
        var root = Directory.CreateTempSubdirectory("s3mount-bench-sync-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "etc"));
            Directory.CreateDirectory(Path.Combine(root, "usr", "bin"));
            await File.WriteAllTextAsync(Path.Combine(root, "usr", "bin", "mount-s3"), "#!/bin/sh\n");
            await File.WriteAllTextAsync(Path.Combine(root, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\nec2-user:x:1000:1000::/home/ec2-user:/bin/sh\n");
            await File.WriteAllTextAsync(Path.Combine(root, "etc", "group"), "root:x:0:\nec2-user:x:1000:\n");
            await File.WriteAllTextAsync(Path.Combine(root, "etc", "fuse.conf"), "#user_allow_other\n");
            var runner = new LocalScriptRunner();
            async Task<string> Run(NodeScript s) => (await runner.RunAsync(s)).Stdout;
            var created = await Run(NodeOperations.Sync(new SyncRequest(map) { Apply = true, Root = root }));
            var inSync = await Run(NodeOperations.Sync(new SyncRequest(map) { Apply = true, Root = root }));
            var drifted = MountMap.FromSpecs(specs.Select(s => s with { User = "root", Options = s.Options with { ReadOnly = false, AllowDelete = true } }));
            var updated = await Run(NodeOperations.Sync(new SyncRequest(drifted) { Apply = true, Root = root }));
            var one = await Run(NodeOperations.Create(new CreateRequest(specs[0] with { Path = "/mnt/other" }) { Root = root }));
            if (NodeResultParser.Sync(ResultBlock.Parse(created), map).Items.Count(i => i.Changed) != specs.Count ||
                NodeResultParser.Sync(ResultBlock.Parse(inSync), map).Items.Any(i => i.Changed) ||
                NodeResultParser.Sync(ResultBlock.Parse(updated), drifted).Items.Count(i => i.Changed) != specs.Count ||
                !NodeResultParser.Create(ResultBlock.Parse(one)).Changed)
            {
                throw new InvalidOperationException("the real scripts did not do what the benchmark replays:\n" + created + inSync + updated + one);
            }

            return new Sizes(created.Length, inSync.Length, updated.Length, created, one);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static FakeSsmServer Fake(List<string> ids, Func<string, TimeSpan> latency, Func<string, string> stdout)
    {
        var fake = new FakeSsmServer(new FakeSsmOptions { DeliveryDelay = TimeSpan.FromMilliseconds(20) });
        foreach (var id in ids)
        {
            fake.AddInstance(id, new SimulatedInstance { Latency = latency(id), Stdout = stdout });
        }

        return fake;
    }

    private static async Task<Outcome> RunSync(List<string> ids, Dictionary<string, TimeSpan> latency, TimeSpan poll, NodeScript script, MountMap map, string nodeOutput)
    {
        using var fake = Fake(ids, id => latency[id], _ => nodeOutput);
        using var client = new SsmHttpClient(ResolvedAwsSettings.FromKeys("AKIDBENCH", "secret", "us-east-1", fake.Endpoint));
        var runner = new FleetRunner(client, null, new FleetRunnerOptions { PollInterval = poll });
        var ok = 0;
        var sw = Stopwatch.StartNew();
        await runner.RunAsync(new FleetRunRequest { Script = script.Text, InstanceIds = ids }, o => NodeResultParser.Sync(ResultBlock.Parse(o.Stdout), map),
            new DelegateFleetSink<SyncResult>(r =>
            {
                if (r.IsSuccess && r.Value!.Items.Count(i => i.Changed) == map.Mounts.Count)
                {
                    Interlocked.Increment(ref ok);
                }
            }), CancellationToken.None);
        sw.Stop();
        return new Outcome(fake.TotalCalls, fake.Calls.ToDictionary(k => k.Key, v => v.Value), sw.Elapsed, ok);
    }

    private static async Task<Outcome> RunNaive(List<string> ids, Dictionary<string, TimeSpan> latency, TimeSpan poll, List<NodeScript> creates, int mounts, string createOutput)
    {
        using var fake = Fake(ids, id => latency[id] / mounts, _ => createOutput);
        using var client = new SsmHttpClient(ResolvedAwsSettings.FromKeys("AKIDBENCH", "secret", "us-east-1", fake.Endpoint));
        using var gate = new SemaphoreSlim(16);
        var sw = Stopwatch.StartNew();
        var commands = new List<(string Id, string CommandId)>();
        var work = ids.SelectMany(id => creates.Select(c => (Id: id, Commands: ScriptEncoding.ToCommands(c.Text)))).ToList();
        await Task.WhenAll(work.Select(async w =>
        {
            await gate.WaitAsync();
            try
            {
                var c = await client.SendCommandAsync(new SendCommandRequest { InstanceIds = new[] { w.Id }, Parameters = new Dictionary<string, IReadOnlyList<string>> { ["commands"] = w.Commands } }, CancellationToken.None);
                lock (commands)
                {
                    commands.Add((w.Id, c.CommandId));
                }
            }
            finally
            {
                gate.Release();
            }
        }));

        var pending = new HashSet<(string Id, string CommandId)>(commands);
        var ok = 0;
        while (pending.Count > 0)
        {
            await Task.Delay(poll);
            var done = new List<(string, string)>();
            await Task.WhenAll(pending.ToList().Select(async p =>
            {
                await gate.WaitAsync();
                try
                {
                    var r = await client.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = p.CommandId, InstanceId = p.Id }, CancellationToken.None);
                    if (SsmStatus.IsTerminal(r.Status))
                    {
                        lock (done)
                        {
                            done.Add(p);
                            if (r.Status == SsmStatus.Success && NodeResultParser.Create(ResultBlock.Parse(r.StandardOutputContent)).Changed)
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

    private static string Fmt(Dictionary<string, int> byOp) => string.Join(", ", byOp.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => k.Key + " " + k.Value));

    private static int Arg(string[] a, string name, int def) => ArgS(a, name) is string s ? int.Parse(s, CultureInfo.InvariantCulture) : def;

    private static double Arg(string[] a, string name, double def) => ArgS(a, name) is string s ? double.Parse(s, CultureInfo.InvariantCulture) : def;

    private static string? ArgS(string[] a, string name)
    {
        var i = Array.IndexOf(a, name);
        return i >= 0 && i + 1 < a.Length ? a[i + 1] : null;
    }
}
