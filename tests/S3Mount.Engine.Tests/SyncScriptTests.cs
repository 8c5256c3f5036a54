using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Units;

namespace S3Mount.Engine.Tests;

/// <summary>The sync script on offline image roots, under dash and bash: plan, apply, idempotency, prune, adopt.</summary>
public class SyncScriptTests
{
    private readonly ITestOutputHelper output;

    public SyncScriptTests(ITestOutputHelper output) => this.output = output;

    private static readonly MountSpec A = MountSpec.Create("genomics-ref", "/fsx/ref", options: new MountOptions { ReadOnly = true, AllowOther = true }, user: "ec2-user");
    private static readonly MountSpec B = MountSpec.Create("s3://results/run-42/", "/mnt/results", options: new MountOptions { AllowDelete = true });
    private static readonly MountSpec C = MountSpec.Create("scratch", "/mnt/scratch", options: new MountOptions { CacheDirectory = "/var/cache/s3/scratch", MaxCacheSizeMiB = 1024 });

    private static MountMap Map(params MountSpec[] specs) => MountMap.FromSpecs(specs);

    private static SyncResult Run(string shell, MountMap map, string root, bool apply = false, bool prune = false, bool adopt = false) =>
        NodeResultParser.Sync(Sh.Run(shell, NodeOperations.Sync(new SyncRequest(map) { Root = root, Apply = apply, Prune = prune, Adopt = adopt })).Block(), map);

    private static void Create(string shell, MountSpec spec, string root) =>
        Assert.True(NodeResultParser.Create(Sh.Run(shell, NodeOperations.Create(new CreateRequest(spec) { Root = root })).Block()).Changed);

    [Theory]
    [MemberData(nameof(Sh.Shells), MemberType = typeof(Sh))]
    public void Empty_node_plans_every_mount_missing_changes_nothing_then_converges_once(string shell)
    {
        using var root = new ImageRoot();
        var map = Map(A, B, C);
        var before = root.Snapshot();
        var plan = Run(shell, map, root.Path);
        Assert.Equal(new[] { MountDrift.Missing, MountDrift.Missing, MountDrift.Missing }, plan.Items.Select(i => i.State));
        Assert.All(plan.Items, i => Assert.Equal("create", i.Plan));
        Assert.All(plan.Items, i => Assert.False(i.Attempted));
        Assert.Equal(before, root.Snapshot());

        var applied = Run(shell, map, root.Path, apply: true);
        Assert.All(applied.Items, i => Assert.True(i.Attempted && i.Changed && i.Error is null, i.Name + ": " + i.Error?.Message));
        foreach (var s in map.Mounts)
        {
            Assert.Equal(UnitRenderer.Render(s), File.ReadAllText(root.Combine("etc/systemd/system/" + s.UnitName)));
        }

        Assert.True(Directory.Exists(root.Combine("/var/cache/s3/scratch")));
        Assert.Contains("\nuser_allow_other", File.ReadAllText(root.Combine("etc/fuse.conf")));

        var converged = root.Snapshot();
        var again = Run(shell, map, root.Path, apply: true);
        Assert.All(again.Items, i => Assert.Equal((MountDrift.InSync, "none", false, false), (i.State, i.Plan, i.Attempted, i.Changed)));
        Assert.Equal(converged, root.Snapshot());
    }

    [Theory]
    [MemberData(nameof(Sh.Shells), MemberType = typeof(Sh))]
    public void A_drifted_mount_reports_its_fields_and_is_updated_alone(string shell)
    {
        using var root = new ImageRoot();
        Create(shell, A, root.Path);
        Create(shell, B with { Options = new MountOptions { ReadOnly = true }, User = "ec2-user" }, root.Path);
        var map = Map(A, B);
        var plan = Run(shell, map, root.Path);
        Assert.Equal(MountDrift.InSync, plan.Items[0].State);
        var drifted = plan.Items[1];
        Assert.Equal((MountDrift.Drifted, "update"), (drifted.State, drifted.Plan));
        Assert.Equal(new[] { "User", "ReadOnly", "AllowDelete" }, drifted.Differences.Select(d => d.Field));
        Assert.Equal(("ec2-user", "root"), ((string?)drifted.Differences[0].Old, (string?)drifted.Differences[0].New));
        Assert.StartsWith("User: ec2-user -> root; ReadOnly: True -> (not set); AllowDelete: (not set) -> True", drifted.Detail);

        var aUnit = root.Combine("etc/systemd/system/" + A.UnitName);
        var aTime = File.GetLastWriteTimeUtc(aUnit);
        var applied = Run(shell, map, root.Path, apply: true);
        Assert.False(applied.Items[0].Attempted);
        Assert.True(applied.Items[1].Changed);
        Assert.Equal(aTime, File.GetLastWriteTimeUtc(aUnit));
        Assert.Equal(UnitRenderer.Render(B), File.ReadAllText(root.Combine("etc/systemd/system/" + B.UnitName)));
    }

    [Theory]
    [MemberData(nameof(Sh.Shells), MemberType = typeof(Sh))]
    public void Extra_units_are_kept_unless_pruned_and_foreign_units_are_kept_unless_adopted(string shell)
    {
        using var root = new ImageRoot();
        Create(shell, C, root.Path);
        var recipe = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "recipe", "default-options.service"));
        Directory.CreateDirectory(root.Combine("etc/systemd/system"));
        Directory.CreateDirectory(root.Combine("mnt/s3"));
        var recipeFile = root.Combine("etc/systemd/system/mountpoint-s3-17a82347.service");
        File.WriteAllText(recipeFile, recipe);
        var mapped = MountSpec.Create("my-bucket", "/mnt/s3", options: new MountOptions { ReadOnly = true }, user: "ec2-user");
        var map = Map(mapped, A);

        var plan = Run(shell, map, root.Path);
        var foreign = Assert.Single(plan.Items, i => i.State == MountDrift.Foreign);
        Assert.Equal(("mountpoint-s3-17a82347.service", "keep", UnitOrigin.Recipe), (foreign.Name, foreign.Plan, foreign.Current!.Origin));
        Assert.Contains(foreign.Differences, d => d.Field == "AllowRoot");
        var extra = Assert.Single(plan.Items, i => i.State == MountDrift.Extra);
        Assert.Equal((C.UnitName, 0, "keep", "/mnt/scratch"), (extra.Name, extra.Index, extra.Plan, extra.Current!.Path));

        var kept = Run(shell, map, root.Path, apply: true);
        Assert.Equal(recipe, File.ReadAllText(recipeFile));
        Assert.True(File.Exists(root.Combine("etc/systemd/system/" + C.UnitName)));
        Assert.True(Assert.Single(kept.Items, i => i.Desired == A).Changed);

        var pruned = Run(shell, map, root.Path, apply: true, prune: true);
        Assert.True(Assert.Single(pruned.Items, i => i.State == MountDrift.Extra).Changed);
        Assert.False(File.Exists(root.Combine("etc/systemd/system/" + C.UnitName)));
        Assert.False(File.Exists(root.Combine("etc/systemd/system/remote-fs.target.wants/" + C.UnitName)));
        Assert.Equal(recipe, File.ReadAllText(recipeFile));

        var adopted = Run(shell, map, root.Path, apply: true, adopt: true);
        var a = Assert.Single(adopted.Items, i => i.State == MountDrift.Foreign);
        Assert.Equal(("adopt", true), (a.Plan, a.Changed));
        Assert.Equal(UnitRenderer.Render(mapped), File.ReadAllText(recipeFile));
        Assert.All(Run(shell, map, root.Path).Items, i => Assert.Equal(MountDrift.InSync, i.State));
    }

    [Theory]
    [MemberData(nameof(Sh.Shells), MemberType = typeof(Sh))]
    public void A_mount_that_fails_is_rolled_back_and_the_others_still_converge(string shell)
    {
        using var root = new ImageRoot();
        var bad = MountSpec.Create("other-bucket", "/mnt/bad", user: "no-such-user");
        var map = Map(A, bad, B);
        var before = root.Snapshot();
        var applied = Run(shell, map, root.Path, apply: true);
        var failed = Assert.Single(applied.Items, i => i.Error is not null);
        Assert.Equal(("S3MountUserUnknown", bad.UnitName), (failed.Error!.ErrorId, failed.Name));
        Assert.False(failed.Changed);
        Assert.All(applied.Items.Where(i => i != failed), i => Assert.True(i.Changed));
        Assert.False(Directory.Exists(root.Combine("mnt/bad")));
        Assert.False(File.Exists(root.Combine("etc/systemd/system/" + bad.UnitName)));
        Assert.NotEqual(before, root.Snapshot());
    }

    [Theory]
    [MemberData(nameof(Sh.Shells), MemberType = typeof(Sh))]
    public void A_path_held_by_an_unmapped_S3Mount_unit_is_freed_by_prune_first(string shell)
    {
        using var root = new ImageRoot();
        var old = MountSpec.Create("old-bucket", "/mnt/data");
        var now = MountSpec.Create("new-bucket", "/mnt/data");
        Create(shell, old, root.Path);
        var map = Map(now);
        var plan = Run(shell, map, root.Path);
        Assert.Equal(MountDrift.Missing, plan.Items.Single(i => i.Index == 1).State);
        Assert.Contains("-Prune", plan.Items.Single(i => i.Index == 1).Detail);
        Assert.Equal(MountDrift.Extra, plan.Items.Single(i => i.Index == 0).State);

        var refused = Run(shell, map, root.Path, apply: true);
        Assert.Equal("S3MountPathInUse", refused.Items.Single(i => i.Index == 1).Error?.ErrorId);
        Assert.True(File.Exists(root.Combine("etc/systemd/system/" + old.UnitName)));

        var pruned = Run(shell, map, root.Path, apply: true, prune: true);
        Assert.All(pruned.Items, i => Assert.True(i.Changed && i.Error is null, i.Name));
        Assert.False(File.Exists(root.Combine("etc/systemd/system/" + old.UnitName)));
        Assert.Equal(UnitRenderer.Render(now), File.ReadAllText(root.Combine("etc/systemd/system/" + now.UnitName)));
    }

    [Fact]
    public void Eight_mounts_travel_in_one_script_and_creating_or_checking_them_fits_SSMs_inline_output()
    {
        using var root = new ImageRoot();
        var specs = Enumerable.Range(1, 8).Select(i => MountSpec.Create("fleet-bucket-" + i, "/mnt/fleet/data-" + i, options: new MountOptions { ReadOnly = true, AllowOther = true, BucketRegion = "us-east-1", CacheDirectory = "/var/cache/s3/" + i, MaxCacheSizeMiB = 4096 }, user: "ec2-user")).ToArray();
        var map = Map(specs);
        var script = NodeOperations.Sync(new SyncRequest(map) { Root = root.Path, Apply = true });
        var created = Sh.Run("dash", script);
        var inSync = Sh.Run("dash", script);
        var drifted = Map(specs.Select(s => s with { User = "root", Options = s.Options with { ReadOnly = false, AllowDelete = true } }).ToArray());
        var update = Sh.Run("dash", NodeOperations.Sync(new SyncRequest(drifted) { Root = root.Path, Apply = true }));
        output.WriteLine($"8 mounts: script {script.Text.Length} characters; output: created {created.Stdout.Length}, in sync {inSync.Stdout.Length}, all 8 drifted and updated {update.Stdout.Length}");
        Assert.True(created.Stdout.Length <= 2500, $"created: {created.Stdout.Length} characters:\n{created.Stdout}");
        Assert.True(inSync.Stdout.Length <= 2500, $"in sync: {inSync.Stdout.Length} characters:\n{inSync.Stdout}");
        Assert.Equal(8, NodeResultParser.Sync(created.Block(), map).Items.Count(i => i.Changed));
        Assert.Equal(8, NodeResultParser.Sync(inSync.Block(), map).Items.Count(i => i.State == MountDrift.InSync));
        // Eight drifted mounts carry their eight old unit lines: longer than SSM's inline output, so the fleet runner reads
        // it with GetCommandInvocation (tested in S3Mount.Ssm.Tests); the block itself is whole.
        Assert.Equal(8, NodeResultParser.Sync(update.Block(), drifted).Items.Count(i => i.Changed && i.Differences.Count == 3));
    }

    [Fact]
    public void The_map_rules_refuse_duplicates_two_buckets_on_a_path_and_nesting()
    {
        var e = Assert.Throws<MountMapException>(() => MountMap.Build(new[]
        {
            Entry("Mounts[0]", ("Bucket", "bucket-a"), ("Path", "/mnt/a")),
            Entry("Mounts[1]", ("Bucket", "bucket-a"), ("Path", "/mnt/a/")),
            Entry("Mounts[2]", ("Bucket", "bucket-b"), ("Path", "/mnt/a")),
            Entry("Mounts[3]", ("Bucket", "bucket-c"), ("Path", "/mnt/a/sub")),
            Entry("Mounts[4]", ("Bucket", "bucket-d"), ("Path", "/mnt/ab")),
            Entry("Mounts[5]", ("Bucket", "bucket-e"), ("Path", "/mnt/e"), ("ReadOnlz", true)),
            Entry("Mounts[6]", ("Bucket", "bucket-f"), ("Path", "/mnt/f"), ("ReadOnly", "yes")),
        }));
        Assert.Equal(ErrorIds.MapInvalid, e.ErrorId);
        var byEntry = e.Problems.ToLookup(p => p.Entry);
        Assert.Equal(ErrorIds.MapDuplicatePath, Assert.Single(byEntry["Mounts[1]"]).ErrorId);
        Assert.Contains(byEntry["Mounts[2]"], p => p.ErrorId == ErrorIds.MapPathConflict);
        Assert.Contains(byEntry["Mounts[3]"], p => p.ErrorId == ErrorIds.MapNested);
        Assert.Empty(byEntry["Mounts[4]"]);
        Assert.Equal((ErrorIds.FieldUnknown, "ReadOnlz"), (Assert.Single(byEntry["Mounts[5]"]).ErrorId, byEntry["Mounts[5]"].Single().Field));
        Assert.Equal((ErrorIds.OptionInvalid, "ReadOnly"), (Assert.Single(byEntry["Mounts[6]"]).ErrorId, byEntry["Mounts[6]"].Single().Field));
        Assert.Contains("Mounts[6].ReadOnly: ReadOnly is a switch", e.Message);
    }

    [Fact]
    public void A_problem_names_the_line_and_column_of_its_key()
    {
        var entry = new MountMapEntry("Mounts[0]", new[] { new KeyValuePair<string, object?>("Bucket", "bucket-a"), new KeyValuePair<string, object?>("Path", "relative/path") })
        {
            Location = new MapLocation("nodes.psd1", 3, 9),
            FieldLocations = new Dictionary<string, MapLocation>(StringComparer.OrdinalIgnoreCase) { ["Path"] = new("nodes.psd1", 5, 13) },
        };
        var e = Assert.Throws<MountMapException>(() => MountMap.Build(new[] { entry }, source: "nodes.psd1"));
        Assert.StartsWith("nodes.psd1:5:13: Mounts[0]", e.Problems.Single().ToString());
        Assert.Equal(ErrorIds.PathInvalid, e.Problems.Single().ErrorId);
    }

    private static MountMapEntry Entry(string source, params (string Key, object? Value)[] fields) =>
        new(source, fields.Select(f => new KeyValuePair<string, object?>(f.Key, f.Value)));
}
