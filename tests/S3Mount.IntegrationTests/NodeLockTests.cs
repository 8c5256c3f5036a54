using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Units;
using S3Mount.Lab;
using static S3Mount.IntegrationTests.LabTestHelpers;

namespace S3Mount.IntegrationTests;

/// <summary>
/// Issue 12's node lock on a real node: operations that reach one node at once (two admins, two SSM commands, user data
/// still running) are serialised by node_lock, so every one of them succeeds and the node ends in one consistent state.
/// </summary>
[Collection(NodeLockLabCollection.Name)]
public sealed class NodeLockTests(NodeLockLabFixture fixture, ITestOutputHelper output)
{
    private LabNode Node => fixture.Lab.Nodes[0];

    [Fact]
    public async Task Twenty_concurrent_creates_and_removes_all_succeed_with_one_user_allow_other_and_every_unit_intact()
    {
        var node = this.Node;
        await node.ShAsync("id lockuser >/dev/null 2>&1 || useradd -m lockuser; sed -i '/user_allow_other/d' /etc/fuse.conf; echo '#user_allow_other' >>/etc/fuse.conf", Ct);
        var old = Enumerable.Range(0, 10).Select(i => MountSpec.Create(i % 2 == 0 ? "lab-bucket" : "lab-bucket-2", $"/srv/lock/old-{i}")).ToList();
        var fresh = Enumerable.Range(0, 10).Select(i => i < 5
            ? MountSpec.Create("lab-bucket", $"/srv/lock/new-{i}")
            : MountSpec.Create("lab-bucket-2", $"/srv/lock/user-{i}", $"u{i}/", new MountOptions { AllowOther = true }, "lockuser")).ToList();
        var all = old.Concat(fresh).Select(s => s.UnitName).ToArray();
        try
        {
            foreach (var s in old)
            {
                await node.CreateAsync(new CreateRequest(s) { WaitSeconds = 30 }, Ct);
            }

            // Twenty scripts at once, creates and removes interleaved; the user_allow_other ones among the first.
            var clock = Stopwatch.StartNew();
            var runs = new List<(string Op, MountSpec Spec, Task<ScriptOutput> Run)>();
            for (var i = 0; i < 10; i++)
            {
                var c = fresh[(i + 5) % 10];
                runs.Add(("create", c, node.RunScriptAsync(NodeOperations.Create(new CreateRequest(c) { WaitSeconds = 60 }), TimeSpan.FromMinutes(5), Ct)));
                runs.Add(("remove", old[i], node.RunScriptAsync(NodeOperations.Remove([old[i].UnitName], removeDirectory: true), TimeSpan.FromMinutes(5), Ct)));
            }

            await Task.WhenAll(runs.Select(r => r.Run));
            output.WriteLine($"20 operations at once: all done in {clock.Elapsed.TotalSeconds:0.0} s");
            var waited = 0;
            foreach (var (op, spec, run) in runs)
            {
                var o = await run;
                waited += o.Stderr.Contains("waiting up to", StringComparison.Ordinal) ? 1 : 0;
                if (op == "create")
                {
                    var r = NodeResultParser.Create(o.Block());
                    Assert.True(r.Changed);
                    Assert.True(r.Service.Health == MountHealth.Healthy, $"{spec.UnitName}: {r.Service.Health} {r.Service.HealthReason}");
                }
                else
                {
                    var r = NodeResultParser.Removals(o.Block());
                    Assert.Empty(r.Failures);
                    Assert.Equal(("removed", spec.UnitName), (Assert.Single(r.Items).Directory, r.Items[0].Name));
                }
            }

            output.WriteLine($"{waited} of 20 waited for the node lock");
            Assert.True(waited >= 10, $"only {waited} of 20 concurrent operations waited for the lock");

            // fuse.conf: exactly one user_allow_other (the commented one, uncommented once), nothing else touched.
            Assert.Equal("user_allow_other", await node.ShAsync("grep user_allow_other /etc/fuse.conf", Ct));
            Assert.Equal(string.Empty, await node.ShAsync("cat /run/s3mount.lock", Ct));

            // Every unit intact: the new ones byte for byte what the engine rendered, running, healthy; the old ones gone.
            var listed = (await node.ListAsync(all, null, Ct));
            foreach (var s in fresh)
            {
                Assert.Equal(UnitRenderer.Render(s), await node.ReadFileAsync("/etc/systemd/system/" + s.UnitName, Ct));
                var svc = Assert.Single(listed.Items, x => x.Name == s.UnitName);
                Assert.Equal((MountHealth.Healthy, "active", true), (svc.Health, svc.ActiveState, svc.Enabled));
                Assert.Equal(s, svc.Spec);
            }

            foreach (var s in old)
            {
                Assert.DoesNotContain(listed.Items, x => x.Name == s.UnitName);
                Assert.Equal("not-found gone", await node.ShAsync($"echo $(systemctl show -p LoadState --value -- {s.UnitName}) $([ -e {s.Path} ] && echo left || echo gone)", Ct));
            }

            Assert.Equal(10, listed.Failures.Count);
            Assert.All(listed.Failures, f => Assert.Equal("S3MountServiceNotFound", f.Error.ErrorId));
        }
        finally
        {
            await node.RunScriptAsync(NodeOperations.Remove(all, force: true, removeDirectory: true), null, Ct);
            await node.ExecAsync("rmdir /srv/lock 2>/dev/null; true", null, null, Ct);
        }
    }

    [Fact]
    public async Task A_create_and_a_remove_of_the_same_mount_at_once_end_in_one_consistent_state_and_each_is_told_what_happened()
    {
        var node = this.Node;
        var spec = MountSpec.Create("lab-bucket", "/srv/race");
        var name = spec.UnitName;
        var orders = new List<string>();
        try
        {
            for (var round = 0; round < 4; round++)
            {
                var existed = round % 2 == 1;
                if (existed)
                {
                    await node.CreateAsync(new CreateRequest(spec) { WaitSeconds = 30 }, Ct);
                }

                // Both at once; which one the lock lets in first is up to the node (the launch order alternates).
                var createFirst = round < 2;
                var create = NodeOperations.Create(new CreateRequest(spec) { WaitSeconds = 30 });
                var remove = NodeOperations.Remove([name], removeDirectory: true);
                Task<ScriptOutput> c, r;
                if (createFirst)
                {
                    c = node.RunScriptAsync(create, TimeSpan.FromMinutes(2), Ct);
                    r = node.RunScriptAsync(remove, TimeSpan.FromMinutes(2), Ct);
                }
                else
                {
                    r = node.RunScriptAsync(remove, TimeSpan.FromMinutes(2), Ct);
                    c = node.RunScriptAsync(create, TimeSpan.FromMinutes(2), Ct);
                }

                await Task.WhenAll(c, r);
                var created = NodeResultParser.Create((await c).Block());
                var removed = NodeResultParser.Removals((await r).Block());
                Assert.Equal(MountHealth.Healthy, created.Service.Health);

                // What each caller was told says in which order they ran, and the node must be in that order's state.
                bool present;
                if (existed)
                {
                    // remove then create: the remove took the old unit, the create wrote a new one.
                    // create then remove: the create found its own unit unchanged, the remove took it.
                    Assert.Equal(name, Assert.Single(removed.Items).Name);
                    present = created.Changed;
                }
                else
                {
                    // remove then create: the remove found nothing to remove. create then remove: it took the new unit.
                    Assert.True(created.Changed);
                    present = removed.Items.Count == 0;
                    if (present)
                    {
                        Assert.Equal("S3MountServiceNotFound", Assert.Single(removed.Failures).Error.ErrorId);
                    }
                    else
                    {
                        Assert.Equal(name, Assert.Single(removed.Items).Name);
                    }
                }

                orders.Add(present ? "remove, create" : "create, remove");
                var state = await node.ShAsync(
                    $"echo $([ -f /etc/systemd/system/{name} ] && echo unit || echo no-unit) $([ -L /etc/systemd/system/remote-fs.target.wants/{name} ] && echo enabled || echo not-enabled) " +
                    $"$(systemctl is-active -- {name}) $(grep -q ' /srv/race ' /proc/self/mountinfo && echo mounted || echo not-mounted) $([ -d /srv/race ] && echo dir || echo no-dir)",
                    Ct);
                output.WriteLine($"round {round} ({(existed ? "unit existed" : "no unit")}, {(createFirst ? "create" : "remove")} launched first): {orders[^1]} -> {state}");
                Assert.Equal(present ? "unit enabled active mounted dir" : "no-unit not-enabled inactive not-mounted no-dir", state);
                if (present)
                {
                    Assert.Equal(UnitRenderer.Render(spec), await node.ReadFileAsync("/etc/systemd/system/" + name, Ct));
                    Assert.Equal(MountHealth.Healthy, (await node.GetAsync(name, Ct)).Health);
                }

                await node.RunScriptAsync(NodeOperations.Remove([name], force: true, removeDirectory: true), null, Ct);
            }

            output.WriteLine("orders seen: " + string.Join("; ", orders));
        }
        finally
        {
            await node.RunScriptAsync(NodeOperations.Remove([name], force: true, removeDirectory: true), null, Ct);
        }
    }

    [Fact]
    public async Task A_lock_held_too_long_is_S3MountNodeBusy_naming_the_holder_and_reads_do_not_wait()
    {
        var node = this.Node;
        var spec = MountSpec.Create("lab-bucket-2", "/srv/busy");
        string? holder = null;
        try
        {
            // Another operation holds the lock (as a converge script would: its record in the lock file) for 30 s.
            holder = await HoldNodeLockAsync(node, "converge lab-mount-map", 30);
            var clock = Stopwatch.StartNew();
            var busy = await node.RunScriptAsync(NodeOperations.Create(new CreateRequest(spec) { WaitSeconds = 30 }), new Dictionary<string, string> { ["S3M_LOCK_SECONDS"] = "3" }, TimeSpan.FromMinutes(1), Ct);
            var e = Assert.Throws<S3MountException>(() => NodeResultParser.Create(busy.Block()));
            output.WriteLine($"after {clock.Elapsed.TotalSeconds:0.0} s: {e.ErrorId}: {e.Message}");
            Assert.Equal(ErrorIds.NodeBusy, e.ErrorId);
            Assert.Equal(S3MountErrorKind.ResourceBusy, e.Kind);
            Assert.Contains("converge lab-mount-map", e.Message, StringComparison.Ordinal);
            Assert.InRange(clock.Elapsed.TotalSeconds, 3, 20);
            Assert.Equal("no-unit no-dir", await node.ShAsync($"echo $([ -e /etc/systemd/system/{spec.UnitName} ] && echo unit || echo no-unit) $([ -e /srv/busy ] && echo dir || echo no-dir)", Ct));

            // Listing does not take the lock: it answers at once while the lock is held.
            var quick = Stopwatch.StartNew();
            var listed = await node.ListAsync(null, null, Ct);
            Assert.Empty(listed.Failures);
            Assert.True(quick.Elapsed < TimeSpan.FromSeconds(10), $"list took {quick.Elapsed.TotalSeconds:0.0} s while the lock was held");

            // Once the holder is gone, the same create goes through.
            await node.ShAsync($"kill {holder}; for i in $(seq 50); do flock -n /run/s3mount.lock true && break; sleep 0.1; done", Ct);
            var created = await node.CreateAsync(new CreateRequest(spec) { WaitSeconds = 30 }, Ct);
            Assert.Equal(MountHealth.Healthy, created.Service.Health);
        }
        finally
        {
            if (holder is not null)
            {
                await node.ExecAsync($"kill {holder} 2>/dev/null; true", null, null, Ct);
            }

            await node.RunScriptAsync(NodeOperations.Remove([spec.UnitName], force: true, removeDirectory: true), null, Ct);
        }
    }
}
