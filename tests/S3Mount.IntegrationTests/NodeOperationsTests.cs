using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Tests;
using S3Mount.Engine.Units;
using S3Mount.Lab;
using static S3Mount.IntegrationTests.LabTestHelpers;

namespace S3Mount.IntegrationTests;

/// <summary>
/// Issue 4's acceptance: every node operation, rendered by the engine, run on a real systemd node with /bin/sh
/// (dash) exactly as the local cmdlet and SSM run it. Node 1 takes the operations and the byte-for-byte checks,
/// node 2 the recipe units, idempotency and health.
/// </summary>
[Collection(NodeOpsLabCollection.Name)]
public sealed class NodeOperationsTests(NodeOpsLabFixture fixture, ITestOutputHelper output)
{
    private LabNode Node1 => fixture.Lab.Nodes[0];

    private LabNode Node2 => fixture.Lab.Nodes[1];

    private static async Task<S3MountException> RefusedAsync(Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<S3MountException>(action);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        return e;
    }

    [Fact]
    public async Task Create_list_test_start_stop_restart_enable_disable_and_remove_two_buckets_on_one_node()
    {
        var node = this.Node1;
        var a = MountSpec.Create("lab-bucket", "/srv/ops/a");
        var b = MountSpec.Create("s3://lab-bucket-2/logs/", "/srv/ops/b b", null, new MountOptions { DirMode = Convert.ToInt32("755", 8) });
        try
        {
            var ca = await node.CreateAsync(new CreateRequest(a) { WaitSeconds = 30 }, Ct);
            var cb = await node.CreateAsync(new CreateRequest(b) { WaitSeconds = 30 }, Ct);
            Assert.True(ca.Changed && cb.Changed);
            Assert.Contains("/srv/ops/a", ca.CreatedDirectories);
            Assert.False(ca.FuseConfChanged);
            Assert.Equal("755 0:0", await node.ShAsync("stat -c '%a %u:%g' /srv/ops", Ct));

            // List: both, with everything the model carries, one script run.
            var list = await node.ListAsync(null, null, Ct);
            Assert.Equal(node.Name, list.Host);
            Assert.Empty(list.Failures);
            var la = Assert.Single(list.Items, s => s.Name == a.UnitName);
            var lb = Assert.Single(list.Items, s => s.Name == b.UnitName);
            foreach (var (s, spec) in new[] { (la, a), (lb, b) })
            {
                Assert.Equal(spec.Bucket, s.Bucket);
                Assert.Equal(spec.Prefix, s.Prefix);
                Assert.Equal(spec.Path, s.Path);
                Assert.Equal(spec.Options, s.Options);
                Assert.Equal("root", s.User);
                Assert.Equal("/etc/systemd/system/" + spec.UnitName, s.UnitPath);
                Assert.Equal(UnitOrigin.S3Mount, s.Origin);
                Assert.Equal(("active", "running", "enabled"), (s.ActiveState, s.SubState, s.UnitFileState));
                Assert.True(s.Enabled && s.Mounted);
                Assert.Equal(MountHealth.Healthy, s.Health);
                Assert.Equal(node.Name, s.ComputerName);
            }

            // Test (health) of one service.
            Assert.Equal(MountHealth.Healthy, (await node.GetAsync(b.UnitName, Ct)).Health);

            // Stop, start, restart.
            var stopped = Assert.Single((await node.ControlAsync(ServiceAction.Stop, a.UnitName, Ct)).Items);
            Assert.Equal((MountHealth.NotMounted, "inactive", false), (stopped.Health, stopped.ActiveState, stopped.Mounted));
            var started = Assert.Single((await node.ControlAsync(ServiceAction.Start, a.UnitName, Ct)).Items);
            Assert.Equal((MountHealth.Healthy, "active"), (started.Health, started.ActiveState));
            var pid = await node.MainPidAsync(a.UnitName, Ct);
            var restarted = await node.ControlAsync(ServiceAction.Restart, a.UnitName, Ct);
            Assert.Empty(restarted.Failures);
            Assert.Equal(MountHealth.Healthy, Assert.Single(restarted.Items).Health);
            Assert.NotEqual(pid, await node.MainPidAsync(a.UnitName, Ct));

            // Disable, enable: the remote-fs.target.wants link goes and comes back; the mount keeps running.
            var disabled = Assert.Single((await node.ControlAsync(ServiceAction.Disable, a.UnitName, Ct)).Items);
            Assert.Equal(("disabled", MountHealth.Healthy), (disabled.UnitFileState, disabled.Health));
            Assert.Equal("no", await node.ShAsync($"[ -L /etc/systemd/system/remote-fs.target.wants/{a.UnitName} ] && echo yes || echo no", Ct));
            var enabled = Assert.Single((await node.ControlAsync(ServiceAction.Enable, a.UnitName, Ct)).Items);
            Assert.Equal("enabled", enabled.UnitFileState);
            Assert.Equal("yes", await node.ShAsync($"[ -L /etc/systemd/system/remote-fs.target.wants/{a.UnitName} ] && echo yes || echo no", Ct));

            // A service that is not there: a per-service failure, not a crash.
            var missing = await node.ListAsync(["mountpoint-s3-00000000.service"], null, Ct);
            Assert.Equal("S3MountServiceNotFound", Assert.Single(missing.Failures).Error.ErrorId);

            // Remove with -RemoveDirectory: unit, link, mount and (empty) directory gone; b is untouched.
            var removed = Assert.Single((await node.RemoveAsync(a.UnitName, removeDirectory: true, ct: Ct)).Items);
            Assert.Equal(("removed", "/etc/systemd/system/" + a.UnitName), (removed.Directory, removed.UnitPath));
            Assert.Equal("gone", await node.ShAsync($"[ -e /etc/systemd/system/{a.UnitName} ] || [ -L /etc/systemd/system/remote-fs.target.wants/{a.UnitName} ] || [ -e /srv/ops/a ] || echo gone", Ct));
            Assert.Equal("not-found", await node.ShAsync($"systemctl show -p LoadState --value -- {a.UnitName}", Ct));
            Assert.Null(await FindMountAsync(node, "/srv/ops/a"));
            Assert.Equal(MountHealth.Healthy, (await node.GetAsync(b.UnitName, Ct)).Health);

            // Remove when something else is still mounted at the path: refused (unit kept) unless forced; -Force
            // unmounts lazily. Without -RemoveDirectory the directory stays.
            await node.ControlAsync(ServiceAction.Stop, b.UnitName, Ct);
            await node.ShAsync("mount -t tmpfs -o size=1m s3mount-test '/srv/ops/b b'", Ct);
            var refused = await node.RemoveAsync(b.UnitName, ct: Ct);
            Assert.Empty(refused.Items);
            Assert.Equal("S3MountStillMounted", Assert.Single(refused.Failures).Error.ErrorId);
            Assert.Equal("kept", await node.ShAsync($"[ -f /etc/systemd/system/{b.UnitName} ] && echo kept", Ct));
            var forced = Assert.Single((await node.RemoveAsync(b.UnitName, force: true, ct: Ct)).Items);
            Assert.Equal("keep", forced.Directory);
            Assert.Null(await FindMountAsync(node, "/srv/ops/b\\040b"));
            Assert.Equal("dir", await node.ShAsync("[ -d '/srv/ops/b b' ] && echo dir", Ct));
            Assert.DoesNotContain((await node.ListAsync(null, null, Ct)).Items, s => s.Name == b.UnitName);
        }
        finally
        {
            await node.ExecAsync("umount -l '/srv/ops/b b' 2>/dev/null; true", null, null, Ct);
            await node.RunScriptAsync(NodeOperations.Remove([a.UnitName, b.UnitName], force: true, removeDirectory: true), null, Ct);
            await node.ExecAsync("rmdir '/srv/ops/b b' /srv/ops 2>/dev/null; true", null, null, Ct);
        }
    }

    [Fact]
    public async Task Offline_root_mode_writes_into_a_directory_without_systemctl_or_starting_anything()
    {
        var node = this.Node1;
        const string root = "/srv/image";
        await node.ShAsync($"rm -rf {root}; mkdir -p {root}/etc && cp /etc/passwd /etc/group {root}/etc/", Ct);
        var spec = MountSpec.Create("lab-bucket", "/mnt/offline data", "p/");
        try
        {
            var before = await node.SnapshotAsync(Ct, "/mnt");
            var created = await node.CreateAsync(new CreateRequest(spec) { Root = root }, Ct);
            Assert.True(created.Changed);
            var unit = $"{root}/etc/systemd/system/{spec.UnitName}";
            Assert.Equal(UnitRenderer.Render(spec), await node.ReadFileAsync(unit, Ct));
            Assert.Equal("/etc/systemd/system/" + spec.UnitName, await node.ShAsync($"readlink {root}/etc/systemd/system/remote-fs.target.wants/{spec.UnitName}", Ct));
            Assert.Equal("755", await node.ShAsync($"stat -c %a '{root}/mnt/offline data'", Ct));

            // Nothing happened on the live system: no unit known to systemd, nothing mounted, nothing else written.
            Assert.Equal("not-found", await node.ShAsync($"systemctl show -p LoadState --value -- {spec.UnitName}", Ct));
            Assert.Equal(before, await node.SnapshotAsync(Ct, "/mnt"));

            var listed = Assert.Single((await node.ListAsync(null, root, Ct)).Items);
            Assert.Equal((spec.UnitName, "/etc/systemd/system/" + spec.UnitName, "enabled", "inactive"), (listed.Name, listed.UnitPath, listed.UnitFileState, listed.ActiveState));
            Assert.Equal(spec.Path, listed.Path);

            var removed = Assert.Single((await node.RemoveAsync(spec.UnitName, removeDirectory: true, root: root, ct: Ct)).Items);
            Assert.Equal("removed", removed.Directory);
            Assert.Equal("gone", await node.ShAsync($"[ -e {unit} ] || [ -L {root}/etc/systemd/system/remote-fs.target.wants/{spec.UnitName} ] || [ -e '{root}/mnt/offline data' ] || echo gone", Ct));
            Assert.Empty((await node.ListAsync(null, root, Ct)).Items);
            Assert.Equal(before, await node.SnapshotAsync(Ct, "/mnt"));
        }
        finally
        {
            await node.ExecAsync($"rm -rf {root}", null, null, Ct);
        }
    }

    [Fact]
    public async Task Recipe_units_are_listed_tested_and_adopted_under_their_name_and_location()
    {
        var node = this.Node2;
        string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "recipe", name));

        // As the field recipe would have done it (mount.sh), adapted to the lab's buckets: its name is md5 of the raw
        // "BUCKET:DIR" (trailing slash included), its directory is chmod 777, fuse.conf gets user_allow_other.
        var etcUnit = Fixture("uri-trailing-slash.service").Replace("my-bucket", "lab-bucket", StringComparison.Ordinal);
        var etcName = LabTestHelpers.RecipeName("lab-bucket", "/mnt/runs/");
        var usrUnit = Fixture("usr-lib-rocky.service").Replace("genomics-ref", "lab-bucket-2", StringComparison.Ordinal);
        var usrName = LabTestHelpers.RecipeName("lab-bucket-2", "/fsx/ref");
        await node.ShAsync("for u in ec2-user rocky; do id $u >/dev/null 2>&1 || useradd -m $u; done; grep -q '^user_allow_other' /etc/fuse.conf || echo user_allow_other >>/etc/fuse.conf; mkdir -p /mnt/runs /fsx/ref; chmod 777 /mnt/runs /fsx/ref", Ct);
        await node.WriteFileAsync("/etc/systemd/system/" + etcName, etcUnit, "0644", Ct);
        await node.WriteFileAsync("/usr/lib/systemd/system/" + usrName, usrUnit, "0644", Ct);
        try
        {
            await node.ShAsync($"systemctl daemon-reload && systemctl enable --now {etcName} {usrName} 2>&1", Ct);

            var list = await node.ListAsync(null, null, Ct);
            var etc = Assert.Single(list.Items, s => s.Name == etcName);
            var usr = Assert.Single(list.Items, s => s.Name == usrName);
            Assert.Equal((UnitOrigin.Recipe, "lab-bucket", "runs/", "/mnt/runs", "ec2-user", "/etc/systemd/system/" + etcName), (etc.Origin, etc.Bucket, etc.Prefix, etc.Path, etc.User, etc.UnitPath));
            Assert.Equal((UnitOrigin.Recipe, "lab-bucket-2", "/fsx/ref", "rocky", "/usr/lib/systemd/system/" + usrName), (usr.Origin, usr.Bucket, usr.Path, usr.User, usr.UnitPath));
            Assert.True(etc.Options.ReadOnly);
            Assert.True(usr.Options.AllowOther);
            foreach (var s in new[] { etc, usr })
            {
                Assert.NotEmpty(s.Warnings);
                Assert.Contains(s.Warnings, w => w.Contains("Restart=", StringComparison.Ordinal));
                Assert.Equal(MountHealth.Healthy, s.Health);
                Assert.True(s.Enabled);
                output.WriteLine($"{s.Name}: {string.Join(" / ", s.Warnings)}");
            }

            // Test of one recipe unit.
            Assert.Equal(MountHealth.Healthy, (await node.GetAsync(usrName, Ct)).Health);

            // Adopting needs -Force; with it, the unit keeps the recipe's name and directory and becomes S3Mount's.
            var etcSpec = etc.Spec with { Path = "/mnt/runs" };
            Assert.NotEqual(etcName, etcSpec.UnitName);
            var notForced = await RefusedAsync(() => node.CreateAsync(new CreateRequest(etcSpec) { WaitSeconds = 30 }, Ct));
            Assert.Equal("S3MountServiceExists", notForced.ErrorId);
            Assert.Equal(etcUnit, await node.ReadFileAsync("/etc/systemd/system/" + etcName, Ct));
            foreach (var (spec, name, dir) in new[] { (etcSpec, etcName, "/etc/systemd/system"), (usr.Spec, usrName, "/usr/lib/systemd/system") })
            {
                var adopted = await node.CreateAsync(new CreateRequest(spec) { Force = true, WaitSeconds = 30 }, Ct);
                Assert.True(adopted.Changed);
                Assert.Equal(name, adopted.Service.Name);
                Assert.Equal(dir + "/" + name, adopted.Service.UnitPath);
                Assert.Equal(UnitOrigin.S3Mount, adopted.Service.Origin);
                Assert.Equal(MountHealth.Healthy, adopted.Service.Health);
                Assert.Equal(UnitRenderer.Render(spec), await node.ReadFileAsync(dir + "/" + name, Ct));
                Assert.Equal("absent", await node.ShAsync($"[ -e /etc/systemd/system/{spec.UnitName} ] && [ {spec.UnitName} != {name} ] && echo present || echo absent", Ct));
            }

            var after = await node.ListAsync(null, null, Ct);
            Assert.All(after.Items.Where(s => s.Name == etcName || s.Name == usrName), s => Assert.Equal((UnitOrigin.S3Mount, MountHealth.Healthy), (s.Origin, s.Health)));
        }
        finally
        {
            await node.RunScriptAsync(NodeOperations.Remove([etcName, usrName], force: true, removeDirectory: true), null, Ct);
        }
    }

    [Fact]
    public async Task The_same_spec_again_changes_nothing_and_a_different_spec_is_applied_only_with_force()
    {
        var node = this.Node2;
        var spec = MountSpec.Create("lab-bucket", "/srv/idem");
        var name = spec.UnitName;
        var stamp = $"sha256sum /etc/systemd/system/{name} | cut -d' ' -f1; stat -c '%i %Y.%y %a' /etc/systemd/system/{name}; systemctl show -p MainPID,NRestarts,ExecMainStartTimestampMonotonic -- {name}";
        try
        {
            Assert.True((await node.CreateAsync(new CreateRequest(spec) { WaitSeconds = 30 }, Ct)).Changed);
            var before = await node.ShAsync(stamp, Ct);
            var again = await node.CreateAsync(new CreateRequest(spec) { WaitSeconds = 30 }, Ct);
            Assert.False(again.Changed);
            Assert.Equal(MountHealth.Healthy, again.Service.Health);
            Assert.Equal(before, await node.ShAsync(stamp, Ct));

            // A different spec for the same bucket and path: refused without -Force, nothing touched.
            var readOnly = spec with { Options = new MountOptions { ReadOnly = true } };
            var refused = await RefusedAsync(() => node.CreateAsync(new CreateRequest(readOnly) { WaitSeconds = 30 }, Ct));
            Assert.Equal("S3MountServiceExists", refused.ErrorId);
            Assert.Equal(before, await node.ShAsync(stamp, Ct));

            // With -Force: replaced and restarted.
            var pid = await node.MainPidAsync(name, Ct);
            var forced = await node.CreateAsync(new CreateRequest(readOnly) { Force = true, WaitSeconds = 30 }, Ct);
            Assert.True(forced.Changed);
            Assert.True(forced.Service.Options.ReadOnly);
            Assert.Equal(MountHealth.Healthy, forced.Service.Health);
            Assert.NotEqual(pid, await node.MainPidAsync(name, Ct));
            Assert.Equal(UnitRenderer.Render(readOnly), await node.ReadFileAsync("/etc/systemd/system/" + name, Ct));
            Assert.NotEqual(0, (await node.ExecAsync("touch /srv/idem/x", null, null, Ct)).ExitCode);
        }
        finally
        {
            await node.RunScriptAsync(NodeOperations.Remove([name], force: true, removeDirectory: true), null, Ct);
        }
    }

    [Fact]
    public async Task Health_is_Healthy_NotMounted_Stale_Hung_or_Failed_and_repair_heals_after_kill_9()
    {
        var node = this.Node2;
        var spec = MountSpec.Create("lab-bucket-2", "/srv/health");
        var name = spec.UnitName;
        var dropIn = $"/etc/systemd/system/{name}.d/50-test.conf";
        try
        {
            await node.CreateAsync(new CreateRequest(spec) { WaitSeconds = 30 }, Ct);
            Assert.Equal(MountHealth.Healthy, (await node.GetAsync(name, Ct)).Health);

            await node.ShAsync($"systemctl stop -- {name}", Ct);
            var stopped = await node.GetAsync(name, Ct);
            Assert.Equal((MountHealth.NotMounted, false), (stopped.Health, stopped.Mounted));
            var repairedStop = Assert.Single((await node.RepairAsync(name, ct: Ct)).Items);
            Assert.Equal(("repair", MountHealth.NotMounted, MountHealth.Healthy), (repairedStop.Action, repairedStop.Before, repairedStop.After));

            // Stale: the unit's self-healing switched off by a drop-in (no restart, no post-stop cleanup), then
            // kill -9 of the daemon leaves the FUSE mount behind: "Transport endpoint is not connected".
            await node.WriteFileAsync(dropIn, "[Service]\nRestart=no\nExecStopPost=\n", "0644", Ct);
            await node.ShAsync($"systemctl daemon-reload && systemctl restart -- {name}", Ct);
            await node.ShAsync($"systemctl kill -s KILL -- {name}; for i in $(seq 50); do [ \"$(systemctl is-active -- {name})\" = failed ] && break; sleep 0.1; done", Ct);
            var stale = await node.GetAsync(name, Ct);
            Assert.True(stale.Health == MountHealth.Stale, $"{stale.Health}: {stale.HealthReason}");
            Assert.Contains("not connected", stale.HealthReason, StringComparison.Ordinal);
            var healed = Assert.Single((await node.RepairAsync(name, ct: Ct)).Items);
            Assert.Equal(("repair", MountHealth.Stale, MountHealth.Healthy), (healed.Action, healed.Before, healed.After));
            Assert.Equal(MountHealth.Healthy, (await node.GetAsync(name, Ct)).Health);

            // Failed: no restart, but the post-stop cleanup runs, so nothing stays mounted and the unit is failed.
            await node.WriteFileAsync(dropIn, "[Service]\nRestart=no\n", "0644", Ct);
            await node.ShAsync($"systemctl daemon-reload && systemctl restart -- {name}", Ct);
            await node.ShAsync($"systemctl kill -s KILL -- {name}; for i in $(seq 50); do [ \"$(systemctl is-active -- {name})\" = failed ] && break; sleep 0.1; done", Ct);
            var failed = await node.GetAsync(name, Ct);
            Assert.True(failed.Health == MountHealth.Failed, $"{failed.Health}: {failed.HealthReason}");
            Assert.Equal(("failed", "signal"), (failed.ActiveState, failed.Result));
            var fixedFailed = Assert.Single((await node.RepairAsync(name, ct: Ct)).Items);
            Assert.Equal(("repair", MountHealth.Failed, MountHealth.Healthy), (fixedFailed.Action, fixedFailed.Before, fixedFailed.After));

            await node.ShAsync($"rm -rf /etc/systemd/system/{name}.d && systemctl daemon-reload", Ct);

            // Hung: the daemon stopped (SIGSTOP), a stat does not answer within the bound. Repair leaves it alone
            // unless forced.
            // (The kernel answers a stat from its attribute cache for about a second, so wait past it first.)
            await node.ShAsync($"kill -STOP $(systemctl show -p MainPID --value -- {name}); sleep 2", Ct);
            var hung = await node.GetAsync(name, Ct);
            Assert.True(hung.Health == MountHealth.Hung, $"{hung.Health}: {hung.HealthReason}");
            var skipped = Assert.Single((await node.RepairAsync(name, ct: Ct)).Items);
            Assert.Equal(("skipped", MountHealth.Hung), (skipped.Action, skipped.Before));
            var forced = Assert.Single((await node.RepairAsync(name, force: true, ct: Ct)).Items);
            Assert.Equal(("repair", MountHealth.Hung, MountHealth.Healthy), (forced.Action, forced.Before, forced.After));

            // A healthy mount is left alone.
            var none = Assert.Single((await node.RepairAsync(name, ct: Ct)).Items);
            Assert.Equal(("none", MountHealth.Healthy, MountHealth.Healthy), (none.Action, none.Before, none.After));
        }
        finally
        {
            await node.ExecAsync($"kill -CONT $(systemctl show -p MainPID --value -- {name}) 2>/dev/null; true", null, null, Ct);
            await node.RunScriptAsync(NodeOperations.Remove([name], force: true, removeDirectory: true), null, Ct);
        }
    }

    [Fact]
    public async Task A_failed_start_rolls_back_byte_for_byte_for_a_new_unit_and_for_a_forced_replacement()
    {
        var node = this.Node1;
        var watched = new[] { "/srv/rb", "/srv" };
        await node.ShAsync("mkdir -p /srv/rb && cp -p /etc/fuse.conf /tmp/fuse.conf.orig && useradd -m rbuser 2>/dev/null; sed -i 's/^user_allow_other$/#user_allow_other/' /etc/fuse.conf", Ct);

        // A brand-new unit whose start fails (the bucket does not exist in the S3 server), as a non-root user with
        // allow-other so fuse.conf is edited too, with directories to create: afterwards, nothing is left.
        var before = await node.SnapshotAsync(Ct, watched);
        var missing = MountSpec.Create("no-such-bucket-" + Guid.NewGuid().ToString("N")[..8], "/srv/rb/new/deep", null, new MountOptions { AllowOther = true }, "rbuser");
        var e = await RefusedAsync(() => node.CreateAsync(new CreateRequest(missing) { WaitSeconds = 15 }, Ct));
        output.WriteLine(e.Message);
        Assert.Equal("S3MountStartFailed", e.ErrorId);
        Assert.Contains("Journal:", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, await node.SnapshotAsync(Ct, watched));
        Assert.Equal("not-found", await node.ShAsync($"systemctl show -p LoadState --value -- {missing.UnitName}", Ct));

        // A forced replacement whose start fails (a dead endpoint): the old unit is back byte for byte and its mount
        // runs again.
        var old = MountSpec.Create("lab-bucket", "/srv/rb/old");
        try
        {
            await node.CreateAsync(new CreateRequest(old) { WaitSeconds = 30 }, Ct);
            var running = await node.SnapshotAsync(Ct, watched);
            var pid = await node.MainPidAsync(old.UnitName, Ct);
            var broken = old with { Options = new MountOptions { S3EndpointUrl = "http://127.0.0.1:9/" } };
            // (The stand-in mounts even with a dead endpoint, but the mount never answers: stat hangs. The wait is
            // bounded in wall time: 10 s, plus one 5 s probe, plus the rollback.)
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var f = await RefusedAsync(() => node.CreateAsync(new CreateRequest(broken) { Force = true, WaitSeconds = 10 }, Ct));
            output.WriteLine($"forced replacement failed and rolled back in {clock.Elapsed.TotalSeconds:0.0} s: {f.Message}");
            Assert.InRange(clock.Elapsed.TotalSeconds, 10, 25);
            Assert.Equal("S3MountStartFailed", f.ErrorId);
            Assert.Equal(running, await node.SnapshotAsync(Ct, watched));
            var back = await node.GetAsync(old.UnitName, Ct);
            Assert.Equal((MountHealth.Healthy, "active"), (back.Health, back.ActiveState));
            Assert.NotEqual(pid, await node.MainPidAsync(old.UnitName, Ct));
            Assert.Equal(UnitRenderer.Render(old), await node.ReadFileAsync("/etc/systemd/system/" + old.UnitName, Ct));
        }
        finally
        {
            await node.RunScriptAsync(NodeOperations.Remove([old.UnitName], force: true, removeDirectory: true), null, Ct);
            await node.ExecAsync("cp -p /tmp/fuse.conf.orig /etc/fuse.conf", null, null, Ct);
        }
    }

    [Fact]
    public async Task The_hostile_corpus_and_node_side_refusals_leave_the_node_byte_identical()
    {
        var node = this.Node1;
        var watched = new[] { "/mnt", "/srv", "/data" };
        var occupied = MountSpec.Create("lab-bucket", "/srv/hz/taken");
        try
        {
            await node.CreateAsync(new CreateRequest(occupied) { WaitSeconds = 30 }, Ct);
            await node.ShAsync("mkdir -p /srv/hz/tmpfs && mount -t tmpfs -o size=1m other /srv/hz/tmpfs", Ct);
            var before = await node.SnapshotAsync(Ct, watched);

            // The corpus: every case is refused by the engine with its id. Should one ever yield a script, it goes
            // to the node, and the node must refuse it and stay the same.
            var sentToNode = 0;
            foreach (var c in HostileCorpus.All)
            {
                Engine.Scripts.NodeScript? script = null;
                var e = Assert.Throws<S3MountException>(() => script = NodeOperations.Create(new CreateRequest(c.Build()) { WaitSeconds = 10 }));
                Assert.True(c.ErrorId == e.ErrorId, $"{c.Name}: {e.ErrorId} {e.Message}");
                if (script is not null)
                {
                    sentToNode++;
                    Assert.NotEqual(0, (await node.RunScriptAsync(script, null, Ct)).ExitCode);
                }
            }

            Assert.True(HostileCorpus.All.Count >= 50);
            Assert.Equal(before, await node.SnapshotAsync(Ct, watched));

            // Refusals only the node can make, each checked against the snapshot.
            await node.SetMountS3VersionAsync("1.22.0", Ct);
            var versioned = await node.SnapshotAsync(Ct, watched);
            var nodeSide = new (string Case, MountSpec Spec, string ErrorId)[]
            {
                ("unknown user", MountSpec.Create("lab-bucket", "/srv/hz/user", null, null, "no-such-user"), "S3MountUserUnknown"),
                ("unknown group", MountSpec.Create("lab-bucket", "/srv/hz/group", null, null, "root", "no-such-group"), "S3MountUserUnknown"),
                ("path used by another bucket", MountSpec.Create("lab-bucket-2", "/srv/hz/taken"), "S3MountPathInUse"),
                ("path mounted by something else", MountSpec.Create("lab-bucket", "/srv/hz/tmpfs"), "S3MountPathInUse"),
                ("option newer than the node's mount-s3", MountSpec.Create("lab-bucket", "/srv/hz/new", null, new MountOptions { InferContentType = true }), "S3MountOptionUnsupported"),
                ("extra argument the node's mount-s3 does not know", MountSpec.Create("lab-bucket", "/srv/hz/extra") with { ExtraArguments = new[] { "--no-such-future-flag" } }, "S3MountOptionUnknown"),
                ("the same path, another bucket, forced", MountSpec.Create("lab-bucket-2", "/srv/hz/taken"), "S3MountPathInUse"),
            };
            foreach (var (name, spec, id) in nodeSide)
            {
                var r = await RefusedAsync(() => node.CreateAsync(new CreateRequest(spec) { Force = name.EndsWith("forced", StringComparison.Ordinal), WaitSeconds = 10 }, Ct));
                Assert.True(id == r.ErrorId, $"{name}: {r.ErrorId} {r.Message}");
                Assert.True(versioned == await node.SnapshotAsync(Ct, watched), name + " changed the node");
                output.WriteLine($"{name}: {r.ErrorId}: {r.Message}");
            }

            output.WriteLine($"{HostileCorpus.All.Count} corpus cases refused by the engine ({sentToNode} reached the node), {nodeSide.Length} node-side refusals");
            Assert.Equal(MountHealth.Healthy, (await node.GetAsync(occupied.UnitName, Ct)).Health);
        }
        finally
        {
            await node.SetMountS3VersionAsync(null, Ct);
            await node.ExecAsync("umount /srv/hz/tmpfs 2>/dev/null; rmdir /srv/hz/tmpfs 2>/dev/null; true", null, null, Ct);
            await node.RunScriptAsync(NodeOperations.Remove([occupied.UnitName], force: true, removeDirectory: true), null, Ct);
        }
    }

    [Fact]
    public async Task List_reports_what_systemctl_reports_for_many_units_in_a_constant_number_of_processes()
    {
        var node = this.Node2;
        var specs = Enumerable.Range(0, 40).Select(i => MountSpec.Create(i % 2 == 0 ? "lab-bucket" : "lab-bucket-2", $"/srv/many/m{i:00}")).ToList();
        var names = specs.Select(s => s.UnitName).ToArray();
        var masked = MountSpec.Create("lab-bucket", "/srv/many/masked");
        try
        {
            // Rendered by the engine, written straight into the node's root (the bytes Create writes): 40 in /etc,
            // one in /usr/lib masked from /etc. Then a mix: 20 enabled, 5 enabled at runtime only, 15 disabled (not
            // loaded at all), 3 of the enabled ones running.
            foreach (var spec in specs)
            {
                await File.WriteAllTextAsync(Path.Combine(node.RootPath, "etc/systemd/system", spec.UnitName), UnitRenderer.Render(spec), Ct);
                Directory.CreateDirectory(Path.Combine(node.RootPath, spec.Path.TrimStart('/')));
            }

            await File.WriteAllTextAsync(Path.Combine(node.RootPath, "usr/lib/systemd/system", masked.UnitName), UnitRenderer.Render(masked), Ct);
            await node.ShAsync(
                $"systemctl daemon-reload && systemctl enable -q -- {string.Join(' ', names[..20])} && systemctl enable -q --runtime -- {string.Join(' ', names[20..25])} && " +
                $"systemctl mask -q -- {masked.UnitName} && systemctl start -- {string.Join(' ', names[..3])}",
                Ct);

            var all = names.Append(masked.UnitName).ToArray();
            var listed = await node.ListAsync(all, null, Ct);
            Assert.Empty(listed.Failures);
            Assert.Equal(all.Length, listed.Items.Count);
            var truth = (await node.ShAsync($"for u in {string.Join(' ', all)}; do echo $u $(systemctl show -p ActiveState --value -- $u) $(systemctl show -p SubState --value -- $u) $(systemctl show -p UnitFileState --value -- $u); done", Ct))
                .Split('\n').Select(l => l.Split(' ')).ToDictionary(f => f[0], f => (f[1], f[2], f[3]));
            foreach (var s in listed.Items)
            {
                Assert.Equal((s.Name, truth[s.Name]), (s.Name, (s.ActiveState, s.SubState, s.UnitFileState)));
            }

            Assert.Equal(3, listed.Items.Count(s => s.Health == MountHealth.Healthy));
            Assert.Equal("masked", listed.Items.Single(s => s.Name == masked.UnitName).UnitFileState);
            Assert.Equal("/usr/lib/systemd/system/" + masked.UnitName, listed.Items.Single(s => s.Name == masked.UnitName).UnitPath);

            // One script run, and its process count does not grow with the units: PIDs allocated in the node's PID
            // namespace (/proc/loadavg's last PID) while it lists 41 units. Before this branch it was about 60 per unit.
            var script = NodeOperations.List(all);
            await File.WriteAllTextAsync(Path.Combine(node.RootPath, "root/s3mount-list.sh"), script.Text, Ct);
            var pids = int.Parse(await node.ShAsync("read -r _ _ _ _ a </proc/loadavg; /bin/sh /root/s3mount-list.sh >/dev/null; read -r _ _ _ _ b </proc/loadavg; echo $((b - a))", Ct), System.Globalization.CultureInfo.InvariantCulture);
            output.WriteLine($"List of {all.Length} units: {pids} PIDs");
            Assert.InRange(pids, 1, 30);
        }
        finally
        {
            await node.ExecAsync($"systemctl unmask -q -- {masked.UnitName}; rm -f /root/s3mount-list.sh; true", null, null, Ct);
            await node.RunScriptAsync(NodeOperations.Remove(names.Append(masked.UnitName), force: true, removeDirectory: true), null, Ct);
            await node.ExecAsync("rmdir /srv/many 2>/dev/null; true", null, null, Ct);
        }
    }
}
