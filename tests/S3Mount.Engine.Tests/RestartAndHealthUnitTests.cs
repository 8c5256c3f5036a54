using System.Diagnostics;
using System.Globalization;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Units;

namespace S3Mount.Engine.Tests;

/// <summary>
/// Issue 12's restart policy and health check, as rendered and as the scripts place them: the back-off snippet's
/// schedule, the systemd 254 drop-in, the health timer and service (systemd-analyze verify), the interval's round trip
/// and validation, and what offline create and remove write and delete. On real nodes: tests/S3Mount.IntegrationTests.
/// </summary>
public class RestartAndHealthUnitTests
{
    private static readonly MountSpec Spec = MountSpec.Create("my-bucket", "/mnt/s3 data", user: "ec2-user");

    /// <summary>The back-off snippet exactly as systemd hands it to /bin/sh (read back from the rendered unit).</summary>
    private static string BackoffScriptFromUnit(string mode)
    {
        var key = mode == "wait" ? "ExecStartPre" : mode == "live" ? "ExecStartPost" : "ExecStopPost";
        var line = UnitParser.ReadEntries(UnitRenderer.Render(Spec)).Single(e => e.Key == key && e.Value.Contains(UnitRenderer.BackoffArgv0)).Value;
        var words = SystemdSyntax.SplitExec(line).Words;
        Assert.Equal(new[] { "/bin/sh", "-c", UnitRenderer.BackoffScript, UnitRenderer.BackoffArgv0, mode, "%n" }, words);
        return words[2];
    }

    /// <summary>Runs the snippet with its state directory moved to DIR and sleep recorded instead of slept.</summary>
    private static (string State, string Slept) Backoff(string dir, string mode, string? state)
    {
        var script = BackoffScriptFromUnit(mode).Replace(UnitRenderer.BackoffStateDirectory, dir, StringComparison.Ordinal);
        var file = Path.Combine(dir, "mountpoint-s3-17a82347.service");
        if (state is null)
        {
            File.Delete(file);
        }
        else
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(file, state + "\n");
        }

        var bin = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "s3mount-fakebin-" + Environment.ProcessId)).FullName;
        File.WriteAllText(Path.Combine(bin, "sleep"), "#!/bin/sh\nprintf '%s' \"$1\" >>\"$SLEPT\"\n");
        File.SetUnixFileMode(Path.Combine(bin, "sleep"), (UnixFileMode)0x1ED);
        var slept = Path.Combine(dir, "slept");
        File.Delete(slept);
        var psi = new ProcessStartInfo(Sh.Require("dash"), new[] { "-c", script, UnitRenderer.BackoffArgv0, mode, "mountpoint-s3-17a82347.service" }) { RedirectStandardError = true };
        psi.Environment["PATH"] = bin + ":/usr/bin:/bin";
        psi.Environment["SLEPT"] = slept;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0 && err.Length == 0, $"{mode} {state}: exit {p.ExitCode}: {err}");
        return (File.Exists(file) ? File.ReadAllText(file).Trim() : "(none)", File.Exists(slept) ? File.ReadAllText(slept) : string.Empty);
    }

    [Fact]
    public void The_back_off_spaces_attempts_2_2_4_8_16_then_20_s_and_starts_over_after_a_healthy_minute()
    {
        var dir = Directory.CreateTempSubdirectory("s3mount-backoff-").FullName;
        try
        {
            // wait: the sleep before an attempt, on top of RestartSec=2, after N consecutive failed runs.
            var schedule = new[] { null, "0", "1", "2", "3", "4", "5", "6", "7", "50", "garbage" }
                .Select(n => (n ?? "none") + ":" + Backoff(dir, "wait", n).Slept).ToArray();
            Assert.Equal(new[] { "none:", "0:", "1:", "2:", "3:2", "4:6", "5:14", "6:18", "7:18", "50:18", "garbage:" }, schedule);

            // end: one more failed run; live: the mount came up (note when), keeping the count.
            Assert.Equal("1", Backoff(dir, "end", null).State);
            Assert.Equal("4", Backoff(dir, "end", "3").State);
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var live = Backoff(dir, "live", "4").State.Split(' ');
            Assert.Equal("4", live[0]);
            Assert.InRange(long.Parse(live[1], CultureInfo.InvariantCulture), now - 5, now + 5);

            // A run that was live for a minute ends: the next attempt is the first again (2 s); a shorter one counts on.
            Assert.Equal("1", Backoff(dir, "end", "4 " + (now - 61).ToString(CultureInfo.InvariantCulture)).State);
            Assert.Equal("5", Backoff(dir, "end", "4 " + (now - 10).ToString(CultureInfo.InvariantCulture)).State);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_scripts_clear_the_back_off_state_where_the_unit_keeps_it()
    {
        // One place for the path: lib.sh's backoff_reset removes the file the unit's snippet writes.
        var lib = NodeScript.Source("lib");
        Assert.Contains("rm -f -- \"" + UnitRenderer.BackoffStateDirectory + "/$1\"", lib, StringComparison.Ordinal);

        // Every start S3Mount asks for clears it first: create and sync (mount_create and its rollback), start and
        // restart, repair, the health check.
        var mountCreate = lib.Substring(lib.IndexOf("mount_create() {", StringComparison.Ordinal));
        Assert.True(mountCreate.Split("backoff_reset \"$NAME\"").Length >= 4, "mount_create and create_rollback clear the back-off before each start");
        foreach (var op in new[] { "control", "repair", "health" })
        {
            Assert.Contains("backoff_reset ", NodeScript.Source(op), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_systemd_254_drop_in_replaces_the_waiting_pre_start_by_RestartSteps_and_keeps_the_cleanup()
    {
        var text = UnitRenderer.RenderBackoffDropIn(Spec);
        var e = UnitParser.ReadEntries(text);
        Assert.All(e, x => Assert.Equal("Service", x.Section));
        Assert.Equal(new[] { "ExecStartPre", "ExecStartPre", "RestartSteps", "RestartMaxDelaySec" }, e.Select(x => x.Key));
        Assert.Equal(string.Empty, e[0].Value);
        var unitCleanup = UnitParser.ReadEntries(UnitRenderer.Render(Spec)).Single(x => x.Key == "ExecStartPre" && x.Value.Contains(UnitRenderer.CleanupArgv0)).Value;
        Assert.Equal(unitCleanup, e[1].Value);
        Assert.Equal(("4", "20"), (e[2].Value, e[3].Value));
    }

    [Fact]
    public void Health_timer_and_service_verify_with_the_unit_and_name_each_other()
    {
        var analyzer = new[] { "/usr/bin/systemd-analyze", "/bin/systemd-analyze" }.FirstOrDefault(File.Exists);
        if (analyzer is null)
        {
            Assert.Skip("systemd-analyze is not installed on this machine (apt-get install systemd).");
        }

        var dir = Directory.CreateTempSubdirectory("s3mount-verify-health-");
        try
        {
            var exe = Path.Combine(dir.FullName, "mount-s3");
            var program = Path.Combine(dir.FullName, "health-check");
            foreach (var f in new[] { exe, program })
            {
                File.WriteAllText(f, "#!/bin/sh\nexit 0\n");
                File.SetUnixFileMode(f, (UnixFileMode)0x1C0);
            }

            var health = HealthUnits.NameFor(Spec.UnitName);
            Assert.Equal("s3mount-health-" + Spec.UnitName["mountpoint-s3-".Length..^".service".Length], health);
            File.WriteAllText(Path.Combine(dir.FullName, Spec.UnitName), UnitRenderer.Render(Spec, exe));
            File.WriteAllText(Path.Combine(dir.FullName, health + ".timer"), HealthUnits.RenderTimer(Spec));
            File.WriteAllText(Path.Combine(dir.FullName, health + ".service"), HealthUnits.RenderService(Spec).Replace(HealthUnits.ProgramPath, program, StringComparison.Ordinal));
            var units = new[] { Spec.UnitName, health + ".timer", health + ".service" }.Select(u => Path.Combine(dir.FullName, u));
            var psi = new ProcessStartInfo(analyzer!, new[] { "verify", "--man=no" }.Concat(units)) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            var ours = stderr.Split('\n').Where(l => l.Contains("s3mount") || l.Contains("mountpoint-s3") || l.Contains("Unknown") || l.Contains("Failed to parse") || l.Contains("Ignoring")).ToList();
            Assert.True(p.ExitCode == 0 && ours.Count == 0, stderr);

            // The timer's interval is the spec's; the service runs the program with its own name and the mount path.
            var timer = UnitParser.ReadEntries(HealthUnits.RenderTimer(Spec with { HealthCheckIntervalSeconds = 300 }));
            Assert.Equal(("300", "300"), (timer.Single(x => x.Key == "OnActiveSec").Value, timer.Single(x => x.Key == "OnUnitActiveSec").Value));
            var exec = UnitParser.ReadEntries(HealthUnits.RenderService(Spec)).Single(x => x.Key == "ExecStart").Value;
            Assert.Equal(new[] { HealthUnits.ProgramPath, "%N", "/mnt/s3 data" }, SystemdSyntax.SplitExec(exec).Words);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(10, true)]
    [InlineData(30, true)]
    [InlineData(86400, true)]
    [InlineData(9, false)]
    [InlineData(-1, false)]
    [InlineData(86401, false)]
    public void The_interval_is_0_or_10_to_86400_seconds_and_reads_back_from_the_unit(int seconds, bool valid)
    {
        var spec = Spec with { HealthCheckIntervalSeconds = seconds };
        var problems = SpecValidator.Validate(spec);
        if (!valid)
        {
            Assert.Equal(ErrorIds.OptionInvalid, Assert.Single(problems).ErrorId);
            Assert.Throws<S3MountException>(() => NodeOperations.Create(new CreateRequest(spec)));
            return;
        }

        Assert.Empty(problems);
        var parsed = UnitParser.Parse(UnitRenderer.Render(spec), spec.UnitName);
        Assert.Equal(spec, parsed.Spec);
        Assert.Empty(parsed.Warnings);
    }

    [Fact]
    public void An_older_S3Mount_unit_without_the_key_reads_as_no_health_check_and_a_bad_value_warns()
    {
        var text = UnitRenderer.Render(Spec);
        var old = string.Join("\n", text.Split('\n').Where(l => !l.StartsWith("X-S3Mount-HealthCheck=", StringComparison.Ordinal)));
        Assert.Equal(0, UnitParser.Parse(old).Spec.HealthCheckIntervalSeconds);
        var edited = UnitParser.Parse(text.Replace("X-S3Mount-HealthCheck=30", "X-S3Mount-HealthCheck=soon", StringComparison.Ordinal));
        Assert.Equal(0, edited.Spec.HealthCheckIntervalSeconds);
        Assert.Contains(edited.Warnings, w => w.Contains("X-S3Mount-HealthCheck", StringComparison.Ordinal));
    }

    [Fact]
    public void Offline_create_writes_the_health_check_into_the_image_and_remove_takes_it_away()
    {
        using var root = new ImageRoot();
        var a = MountSpec.Create("my-bucket", "/mnt/a", user: "ec2-user");
        var b = MountSpec.Create("my-bucket", "/mnt/b", user: "ec2-user") with { HealthCheckIntervalSeconds = 120 };
        var ha = HealthUnits.NameFor(a.UnitName);
        var hb = HealthUnits.NameFor(b.UnitName);
        string Etc(string name) => root.Combine("etc/systemd/system/" + name);
        var program = root.Combine(HealthUnits.ProgramPath);

        var created = NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(a) { Root = root.Path })).Block());
        Assert.True(created.Changed);
        Assert.Equal(HealthUnits.RenderTimer(a), File.ReadAllText(Etc(ha + ".timer")));
        Assert.Equal(HealthUnits.RenderService(a), File.ReadAllText(Etc(ha + ".service")));
        Assert.Equal("/etc/systemd/system/" + ha + ".timer", new FileInfo(Etc("timers.target.wants/" + ha + ".timer")).LinkTarget);
        Assert.Equal(NodeOperations.HealthProgram().Text, File.ReadAllText(program));
        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(program));
        Assert.Equal((30, "enabled"), (created.Service.HealthCheckIntervalSeconds, created.Service.HealthCheckState));
        Assert.Empty(created.Service.Warnings);

        // No systemd in this image that has RestartSteps=: no drop-in.
        Assert.False(Directory.Exists(Etc(a.UnitName + ".d")));

        // The same spec again: nothing changes, not even the shared program.
        var before = root.Snapshot();
        Assert.False(NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(a) { Root = root.Path })).Block()).Changed);
        Assert.Equal(before, root.Snapshot());

        // A second mount shares the program; listing shows each interval and timer.
        Sh.Run("dash", NodeOperations.Create(new CreateRequest(b) { Root = root.Path }));
        var listed = NodeResultParser.Services(Sh.Run("dash", NodeOperations.List(root: root.Path)).Block()).Items.ToDictionary(s => s.Name);
        Assert.Equal((30, "enabled"), (listed[a.UnitName].HealthCheckIntervalSeconds, listed[a.UnitName].HealthCheckState));
        Assert.Equal((120, "enabled"), (listed[b.UnitName].HealthCheckIntervalSeconds, listed[b.UnitName].HealthCheckState));

        // Turning it off (with -Force: the unit changes) takes a's timer away but leaves b's and the program.
        var off = NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(a with { HealthCheckIntervalSeconds = 0 }) { Root = root.Path, Force = true })).Block());
        Assert.Equal((0, "none"), (off.Service.HealthCheckIntervalSeconds, off.Service.HealthCheckState));
        Assert.False(File.Exists(Etc(ha + ".timer")) || File.Exists(Etc(ha + ".service")) || File.Exists(Etc("timers.target.wants/" + ha + ".timer")));
        Assert.True(File.Exists(program) && File.Exists(Etc(hb + ".timer")));

        // A timer deleted by hand is a warning in the listing, and create puts it back.
        File.Delete(Etc(hb + ".timer"));
        var missing = NodeResultParser.Services(Sh.Run("dash", NodeOperations.List(new[] { b.UnitName }, root.Path)).Block()).Items.Single();
        Assert.Equal("none", missing.HealthCheckState);
        Assert.Contains(missing.Warnings, w => w.Contains(hb + ".timer is missing", StringComparison.Ordinal));
        Assert.True(NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(b) { Root = root.Path })).Block()).Changed);
        Assert.Equal(HealthUnits.RenderTimer(b), File.ReadAllText(Etc(hb + ".timer")));

        // Removing the last mount with a health check takes the program and its directory too.
        Sh.Run("dash", NodeOperations.Remove(new[] { a.UnitName, b.UnitName }, removeDirectory: true, root: root.Path));
        Assert.False(File.Exists(program) || Directory.Exists(Path.GetDirectoryName(program)));
        Assert.Empty(Directory.GetFiles(root.Combine("etc/systemd/system")));
        Assert.False(Directory.Exists(Etc("timers.target.wants")));
    }

    [Fact]
    public void Sync_writes_each_mapped_mount_s_health_check_into_the_image_and_finds_a_missing_timer_drifted()
    {
        using var root = new ImageRoot();
        var a = MountSpec.Create("my-bucket", "/mnt/a", user: "ec2-user");
        var b = MountSpec.Create("my-bucket", "/mnt/b", user: "ec2-user") with { HealthCheckIntervalSeconds = 0 };
        var map = MountMap.FromSpecs(new[] { a, b });
        string Etc(string name) => root.Combine("etc/systemd/system/" + name);
        Sh.Run("dash", NodeOperations.Sync(new SyncRequest(map) { Apply = true, Root = root.Path }));
        Assert.Equal(HealthUnits.RenderTimer(a), File.ReadAllText(Etc(HealthUnits.NameFor(a.UnitName) + ".timer")));
        Assert.False(File.Exists(Etc(HealthUnits.NameFor(b.UnitName) + ".timer")));
        Assert.Equal(NodeOperations.HealthProgram().Text, File.ReadAllText(root.Combine(HealthUnits.ProgramPath)));

        // In sync; then a's timer deleted by hand: drifted, and applying the map again puts it back.
        string States() => string.Join(" ", NodeResultParser.Sync(Sh.Run("dash", NodeOperations.Sync(new SyncRequest(map) { Root = root.Path })).Block(), map).Items.Select(i => i.State));
        Assert.Equal("InSync InSync", States());
        File.Delete(Etc(HealthUnits.NameFor(a.UnitName) + ".timer"));
        Assert.Equal("Drifted InSync", States());
        Sh.Run("dash", NodeOperations.Sync(new SyncRequest(map) { Apply = true, Root = root.Path }));
        Assert.Equal("InSync InSync", States());
        Assert.True(File.Exists(Etc(HealthUnits.NameFor(a.UnitName) + ".timer")));
    }

    [Theory]
    [InlineData("usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-255.so", true)]
    [InlineData("usr/lib64/systemd/libsystemd-shared-256.5-1.fc41.so", true)]
    [InlineData("usr/lib/systemd/libsystemd-shared-254.so", true)]
    [InlineData("usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so", false)]
    public void Offline_the_image_s_systemd_decides_the_drop_in(string library, bool dropIn)
    {
        using var root = new ImageRoot();
        Directory.CreateDirectory(Path.GetDirectoryName(root.Combine(library))!);
        File.WriteAllText(root.Combine(library), string.Empty);
        Sh.Run("dash", NodeOperations.Create(new CreateRequest(Spec) { Root = root.Path }));
        var file = root.Combine("etc/systemd/system/" + Spec.UnitName + ".d/" + UnitRenderer.BackoffDropInName);
        Assert.Equal(dropIn, File.Exists(file));
        if (dropIn)
        {
            Assert.Equal(UnitRenderer.RenderBackoffDropIn(Spec), File.ReadAllText(file));
        }

        // Remove takes the drop-in with the unit.
        Sh.Run("dash", NodeOperations.Remove(new[] { Spec.UnitName }, root: root.Path));
        Assert.False(Directory.Exists(root.Combine("etc/systemd/system/" + Spec.UnitName + ".d")));
    }

    [Fact]
    public void The_health_program_is_compacted_travels_gzipped_and_adds_less_than_9000_characters_to_the_create_command()
    {
        // The program is lib.sh and health.sh composed, without comments and without the lib.sh functions the check
        // never calls (about 10,000 characters of lib.sh's 50,000): in the create script it travels gzipped.
        var program = NodeOperations.HealthProgram().Text;
        Assert.StartsWith(NodeOperations.HealthProgramPrologue, program, StringComparison.Ordinal);
        Assert.Contains("probe() {", program, StringComparison.Ordinal);
        Assert.DoesNotContain("mount_create() {", program, StringComparison.Ordinal);
        Assert.True(program.Length < NodeScript.Source("lib").Length / 3, $"{program.Length} characters");
        var with = Fleet.ScriptEncoding.ToCommands(NodeOperations.Create(new CreateRequest(Spec)).Text)[0].Length;
        var without = Fleet.ScriptEncoding.ToCommands(NodeOperations.Create(new CreateRequest(Spec with { HealthCheckIntervalSeconds = 0 })).Text)[0].Length;
        Assert.InRange(with - without, 1, 9000);
    }
}
