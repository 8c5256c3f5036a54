using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Units;
using S3Mount.Lab;

namespace S3Mount.Bench.List;

/// <summary>
/// Listing N mount services on one lab node: S3Mount's List script (one script run, one systemctl show for all units)
/// against a baseline of one `systemctl status` plus one `findmnt` per unit, in the same run, on the same node.
/// Wall time is measured inside the node (the lab's nsenter overhead is the same for both and left out); processes
/// are counted two ways: PIDs allocated in the node's PID namespace (/proc/loadavg's last PID, read inside the node),
/// and fork/exec calls traced with strace -f from the host (the lab's own exec overhead subtracted).
/// </summary>
public static class Program
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> Main(string[] args)
    {
        var count = Arg(args, "--units", 200);
        var running = Arg(args, "--running", 20);
        var runs = Arg(args, "--runs", 7);
        var output = ArgS(args, "--out", null);
        if (NodeLab.UnavailableReason is { } why)
        {
            Console.Error.WriteLine("The node lab cannot run here: " + why);
            return 2;
        }

        var setupClock = Stopwatch.StartNew();
        await using var lab = await NodeLab.StartAsync(1, new LabOptions { StartPackageServer = false, NodeNamePrefix = "bench" });
        var node = lab.Nodes[0];
        Console.WriteLine($"lab up in {setupClock.Elapsed.TotalSeconds:0.0} s: {node.Name}");

        // Setup. The first RUNNING mounts through the engine's Create (written, enabled, started, waited for); the
        // rest as the engine renders them (UnitRenderer.Render, byte for byte what Create writes) written straight
        // into the node's root, their directories made, then one daemon-reload and one systemctl enable for all.
        var specs = Enumerable.Range(0, count).Select(i => MountSpec.Create(
            i % 2 == 0 ? "lab-bucket" : "lab-bucket-2",
            "/srv/bench/m" + i.ToString("000", Inv),
            i % 4 == 1 ? "p" + i.ToString(Inv) + "/" : null,
            i % 3 == 0 ? new MountOptions { ReadOnly = true } : null)).ToList();
        setupClock.Restart();
        foreach (var spec in specs.Take(running))
        {
            var r = NodeResultParser.Create((await RunScriptAsync(node, NodeOperations.Create(new CreateRequest(spec) { WaitSeconds = 60 }))).Block());
            if (r.Service.Health != MountHealth.Healthy)
            {
                throw new InvalidOperationException($"{spec.UnitName} is {r.Service.Health}");
            }
        }

        var createSeconds = setupClock.Elapsed.TotalSeconds;
        setupClock.Restart();
        foreach (var spec in specs.Skip(running))
        {
            File.WriteAllText(Path.Combine(node.RootPath, "etc/systemd/system", spec.UnitName), UnitRenderer.Render(spec), new UTF8Encoding(false));
            Directory.CreateDirectory(Path.Combine(node.RootPath, spec.Path.TrimStart('/')));
        }

        var stopped = string.Join(" ", specs.Skip(running).Select(s => s.UnitName));
        (await node.ExecAsync($"systemctl daemon-reload && systemctl enable -q -- {stopped}", null, TimeSpan.FromMinutes(5))).EnsureSuccess("enable");
        var writeSeconds = setupClock.Elapsed.TotalSeconds;
        Console.WriteLine($"setup: {running} created and started through Create in {createSeconds:0.0} s; {count - running} written directly + daemon-reload + enable in {writeSeconds:0.0} s");

        // The scripts, copied in once.
        var list = NodeOperations.List();
        await CopyInAsync(node, list.Text, "/tmp/bench-list.sh");
        var tsv = string.Concat(specs.Select(s => s.UnitName + "\t" + s.Path + "\n"));
        await CopyInAsync(node, tsv, "/tmp/bench-units.tsv");
        await CopyInAsync(node, Baseline, "/tmp/bench-baseline.sh");
        await CopyInAsync(node, "#!/bin/sh\n:\n", "/tmp/bench-empty.sh");
        await CopyInAsync(node, Harness, "/tmp/bench-measure.sh");

        // Both give the right answer.
        var listed = NodeResultParser.Services(new ScriptOutput(0, (await node.RunAsync(["/bin/sh", "/tmp/bench-list.sh"])).StdOut, string.Empty).Block());
        var healthy = listed.Items.Count(s => s.Health == MountHealth.Healthy);
        var notMounted = listed.Items.Count(s => s.Health == MountHealth.NotMounted && s.Enabled);
        Console.WriteLine($"List: {listed.Items.Count} services, {healthy} Healthy, {notMounted} NotMounted and enabled");
        if (listed.Items.Count != count || healthy != running || notMounted != count - running)
        {
            throw new InvalidOperationException("the List script did not see every unit as expected");
        }

        var baseCheck = (await node.ExecAsync("sh /tmp/bench-baseline.sh check", null, TimeSpan.FromMinutes(5))).StdOut.Trim();
        Console.WriteLine("baseline check (active units, mounted paths): " + baseCheck);
        if (baseCheck != running + " " + running)
        {
            throw new InvalidOperationException("the baseline did not see every unit as expected: " + baseCheck);
        }

        // Warm-up, then interleaved runs.
        var samples = new Dictionary<string, List<(double Ms, int Pids)>> { ["list"] = new(), ["baseline"] = new(), ["empty"] = new() };
        var targets = new Dictionary<string, string> { ["list"] = "/tmp/bench-list.sh", ["baseline"] = "/tmp/bench-baseline.sh", ["empty"] = "/tmp/bench-empty.sh" };
        for (var i = -1; i < runs; i++)
        {
            foreach (var (key, script) in targets)
            {
                var m = (await node.RunAsync(["/bin/sh", "/tmp/bench-measure.sh", script], null, TimeSpan.FromMinutes(10))).EnsureSuccess("measure").StdOut.Trim().Split(' ');
                if (i < 0)
                {
                    continue;
                }

                samples[key].Add((long.Parse(m[0], Inv) / 1000.0, int.Parse(m[1], Inv)));
            }

            if (i >= 0)
            {
                Console.WriteLine($"run {i + 1}: list {samples["list"][^1].Ms:0.0} ms ({samples["list"][^1].Pids} pids), baseline {samples["baseline"][^1].Ms:0.0} ms ({samples["baseline"][^1].Pids} pids)");
            }
        }

        // strace from the host: fork/clone and successful execve calls of `lab.sh exec NODE /bin/sh SCRIPT`, minus the
        // same for an empty script (the lab's nsenter/env chain).
        var traced = new Dictionary<string, (int Forks, int Execs)>();
        foreach (var (key, script) in targets)
        {
            traced[key] = await StraceAsync(lab, node, script);
        }

        var empty = traced["empty"];
        (int Forks, int Execs) Net(string k) => (traced[k].Forks - empty.Forks, traced[k].Execs - empty.Execs);
        var listTrace = Net("list");
        var baseTrace = Net("baseline");

        double Median(IEnumerable<double> xs)
        {
            var s = xs.OrderBy(x => x).ToList();
            return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
        }

        var emptyPids = Median(samples["empty"].Select(x => (double)x.Pids));
        var listMs = Median(samples["list"].Select(x => x.Ms));
        var baseMs = Median(samples["baseline"].Select(x => x.Ms));
        var listPids = Median(samples["list"].Select(x => (double)x.Pids)) - emptyPids;
        var basePids = Median(samples["baseline"].Select(x => (double)x.Pids)) - emptyPids;
        var wallRatio = baseMs / listMs;
        Console.WriteLine($"median wall: list {listMs:0.0} ms, baseline {baseMs:0.0} ms, ratio {wallRatio:0.0}x (target >= 10x: {(wallRatio >= 10 ? "met" : "MISSED")})");
        Console.WriteLine($"pids (loadavg delta, harness subtracted): list {listPids:0}, baseline {basePids:0}, ratio {basePids / listPids:0.0}x");
        Console.WriteLine($"strace (host, lab overhead subtracted): list {listTrace.Forks} processes / {listTrace.Execs} execs, baseline {baseTrace.Forks} processes / {baseTrace.Execs} execs");

        if (output is not null)
        {
            var systemd = (await node.ExecAsync("systemctl --version | head -1")).StdOut.Trim();
            var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
            var memGb = long.Parse(File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Inv) / 1024.0 / 1024.0;
            var sb = new StringBuilder();
            sb.Append("# Listing benchmark: ").Append(count).Append(" mount services on one node\n\n");
            sb.Append("Produced by (from the repository root, as root):\n\n```\n");
            sb.Append("dotnet run -c Release --project bench/S3Mount.Bench.List -- --units ").Append(count).Append(" --running ").Append(running).Append(" --runs ").Append(runs).Append(" --out bench/results/list.md\n```\n\n");
            sb.Append(CultureInfo.InvariantCulture, $"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores ({cpu}), {memGb:0} GB RAM, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}.\n");
            sb.Append(CultureInfo.InvariantCulture, $"One lab node (tests/lab: Debian 12 under systemd-nspawn, {systemd}), mount-s3 stand-in over s3fs against the loopback s3rver.\n\n");
            sb.Append("Setup: ").Append(count).Append(" units rendered by the engine, ").Append(running).Append(" of them created through `NodeOperations.Create` (written, enabled, started, mount waited for; ")
              .Append(createSeconds.ToString("0.0", Inv)).Append(" s), the other ").Append(count - running)
              .Append(" written straight into the node's root as `UnitRenderer.Render` makes them (the bytes Create writes), their directories made, then one `systemctl daemon-reload` and one `systemctl enable` for all of them (")
              .Append(writeSeconds.ToString("0.0", Inv)).Append(" s): ").Append(running).Append(" running, ").Append(count - running).Append(" enabled but stopped. Before timing, the List result was parsed (")
              .Append(listed.Items.Count).Append(" services, ").Append(healthy).Append(" Healthy, ").Append(notMounted).Append(" NotMounted) and the baseline checked (")
              .Append(baseCheck.Replace(" ", " active, ", StringComparison.Ordinal)).Append(" mounted).\n\n");
            sb.Append("- **S3Mount List**: `NodeOperations.List()` (all units), the script copied into the node once and run with `/bin/sh` (dash) as the local cmdlet and SSM run it: one awk over all unit files, one `systemctl list-units` (active/sub state of every loaded mount unit in one D-Bus call), one `systemctl show` for the units that are not inactive (Result, NRestarts), enablement from the `.wants` links, one awk joining that with mountinfo, one bounded `stat` for all mounted paths.\n");
            sb.Append("- **Baseline**: per unit, `systemctl status --no-pager -- UNIT` and `findmnt -n -M PATH` (the mount state a status does not give), in a `/bin/sh` loop.\n\n");
            sb.Append(CultureInfo.InvariantCulture, $"Wall time: measured inside the node around the script (`date +%s%N`), one warm-up run each, then {runs} runs, list and baseline interleaved; median.\n");
            sb.Append("Processes: (1) PIDs allocated in the node's PID namespace during the run (`/proc/loadavg` last PID read inside the node before and after; the harness's own `date` calls measured with an empty script and subtracted; threads would count too, idle s3fs daemons made none); ")
              .Append("(2) one run each under `strace -f -e trace=execve,clone,clone3,fork,vfork` from the host around `lab.sh exec NODE /bin/sh SCRIPT`: new processes (distinct PIDs in the trace, less the traced command itself) and successful execve calls, minus those of the same command with an empty script (the lab's nsenter/env chain).\n\n");
            sb.Append("| run | wall time (median) | min - max | PIDs allocated (median) | processes (strace) | execs (strace) |\n|---|---:|---:|---:|---:|---:|\n");
            void Row(string name, string key, double ms, double pids, (int F, int E) t) =>
                sb.Append(CultureInfo.InvariantCulture, $"| {name} | {ms:0.0} ms | {samples[key].Min(x => x.Ms):0.0} - {samples[key].Max(x => x.Ms):0.0} ms | {pids:0} | {t.F} | {t.E} |\n");
            Row("S3Mount List (one script run)", "list", listMs, listPids, listTrace);
            Row($"baseline ({count} x systemctl status + findmnt)", "baseline", baseMs, basePids, baseTrace);
            sb.Append('\n');
            sb.Append(CultureInfo.InvariantCulture, $"- Wall time: S3Mount List is **{wallRatio:0.0}x faster** than the baseline (target >= 10x: {(wallRatio >= 10 ? "met" : "MISSED")}).\n");
            sb.Append(CultureInfo.InvariantCulture, $"- Processes: **{basePids / listPids:0.0}x fewer** PIDs ({listPids:0} against {basePids:0}); strace: {listTrace.Forks} against {baseTrace.Forks} processes ({(double)baseTrace.Forks / listTrace.Forks:0.0}x), {listTrace.Execs} against {baseTrace.Execs} execs ({(double)baseTrace.Execs / listTrace.Execs:0.0}x).\n");
            sb.Append(CultureInfo.InvariantCulture, $"- Per run samples (ms): list {string.Join(", ", samples["list"].Select(x => x.Ms.ToString("0.0", Inv)))}; baseline {string.Join(", ", samples["baseline"].Select(x => x.Ms.ToString("0.0", Inv)))}.\n");
            sb.Append("- The List script's process count does not grow with the number of units (the same 15-odd for 20 or 200); its time does, slowly: reading the unit files, `systemctl show` for the running units (about 1 ms each over D-Bus), one stat per mounted path inside one `stat` call. `systemctl status` also reads each unit's journal.\n");
            sb.Append("- History: the first run of this benchmark, against the List script as it was before this branch, spawned 1,220 processes to list 20 units (about 60 per unit: a `printf | tr` per record field, several awk/sed per unit) and took 0.74 s for 20 units, 4.1x slower than the baseline (0.18 s). `systemctl show` for every unit was the next limit: 240 ms for 200 loaded units (850 ms when they are disabled and not loaded, because systemd loads and drops each one per call), hence list-units plus show only for the units that are not inactive.\n");
            File.WriteAllText(output, sb.ToString());
            Console.WriteLine("wrote " + output);
        }

        return wallRatio >= 10 ? 0 : 1;
    }

    /// <summary>One systemctl status and one findmnt per unit. "check" prints the active units and mounted paths instead.</summary>
    private const string Baseline = """
        #!/bin/sh
        # Baseline: one systemctl status per unit, plus one findmnt per unit for the mount state.
        if [ "${1:-}" = check ]; then
          a=0; m=0
          while IFS='	' read -r unit path; do
            systemctl status --no-pager -- "$unit" 2>/dev/null | grep -q 'Active: active' && a=$((a + 1))
            findmnt -n -M "$path" >/dev/null 2>&1 && m=$((m + 1))
          done </tmp/bench-units.tsv
          echo "$a $m"
          exit 0
        fi
        while IFS='	' read -r unit path; do
          systemctl status --no-pager -- "$unit" >/dev/null 2>&1
          findmnt -n -M "$path" >/dev/null 2>&1
        done </tmp/bench-units.tsv
        exit 0

        """;

    /// <summary>Runs a script with /bin/sh, prints wall microseconds and PIDs allocated in this PID namespace.</summary>
    private const string Harness = """
        #!/bin/sh
        read -r _ _ _ _ p0 </proc/loadavg
        t0=$(date +%s%N)
        /bin/sh "$1" >/dev/null 2>&1
        t1=$(date +%s%N)
        read -r _ _ _ _ p1 </proc/loadavg
        echo "$(( (t1 - t0) / 1000 )) $((p1 - p0))"

        """;

    private static async Task<ScriptOutput> RunScriptAsync(LabNode node, NodeScript script)
    {
        var path = "/tmp/s3mount-" + Guid.NewGuid().ToString("N")[..12] + ".sh";
        await CopyInAsync(node, script.Text, path);
        var r = await node.RunAsync(["/bin/sh", path], null, TimeSpan.FromMinutes(3));
        await node.RunAsync(["rm", "-f", path]);
        return new ScriptOutput(r.ExitCode, r.StdOut, r.StdErr);
    }

    private static async Task CopyInAsync(LabNode node, string text, string path)
    {
        var host = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(host, text, new UTF8Encoding(false));
            (await node.Lab.RunLabAsync(["cp-in", node.Name, host, path, "0644"], null, TimeSpan.FromMinutes(1))).EnsureSuccess("cp-in " + path);
        }
        finally
        {
            File.Delete(host);
        }
    }

    private static async Task<(int Forks, int Execs)> StraceAsync(NodeLab lab, LabNode node, string script)
    {
        var trace = Path.GetTempFileName();
        try
        {
            var psi = new ProcessStartInfo("strace") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "-f", "-qq", "-e", "trace=execve,clone,clone3,fork,vfork", "-o", trace, "--", lab.Script, "exec", node.Name, "/bin/sh", script })
            {
                psi.ArgumentList.Add(a);
            }

            psi.Environment["S3MOUNT_LAB_ID"] = lab.LabId;
            psi.Environment["S3MOUNT_LAB_OWNER"] = Environment.ProcessId.ToString(Inv);
            using var p = Process.Start(psi)!;
            var o = p.StandardOutput.ReadToEndAsync();
            var e = p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            await o;
            await e;
            // Every traced task has its own PID in the log: new processes = distinct PIDs - 1 (the traced root). No
            // program here starts threads (strace -f would list them too). Successful execs: "execve(...) = 0", also
            // when strace splits the call into "<unfinished ...>" and "<... execve resumed> ... = 0".
            var pids = new HashSet<string>();
            var execs = 0;
            foreach (var line in File.ReadLines(trace))
            {
                var sp = line.IndexOf(' ', StringComparison.Ordinal);
                if (sp > 0)
                {
                    pids.Add(line[..sp]);
                }

                var done = line.TrimEnd().EndsWith("= 0", StringComparison.Ordinal);
                if (done && (line.Contains(" execve(", StringComparison.Ordinal) || line.Contains("<... execve resumed>", StringComparison.Ordinal)))
                {
                    execs++;
                }
            }

            var forks = pids.Count - 1;
            return (forks, execs);
        }
        finally
        {
            File.Delete(trace);
        }
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], Inv) : fallback;
    }

    private static string? ArgS(string[] args, string name, string? fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
