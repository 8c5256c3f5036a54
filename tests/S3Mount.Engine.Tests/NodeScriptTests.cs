using System.Diagnostics;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Units;

namespace S3Mount.Engine.Tests;

public class NodeScriptTests
{
    public static IEnumerable<object[]> Scripts()
    {
        var spec = MountSpec.Create("my-bucket", "/mnt/it's a \"test\" $(id) %n", options: new MountOptions { AllowOther = true, CacheDirectory = "/var/cache/s3", InferContentType = true }, user: "ec2-user")
            with { ExtraArguments = new[] { "--future-flag" } };
        yield return new object[] { "create", NodeOperations.Create(new CreateRequest(spec)) };
        yield return new object[] { "list", NodeOperations.List() };
        yield return new object[] { "repair", NodeOperations.Repair(new[] { spec.UnitName }) };
        yield return new object[] { "control", NodeOperations.Control(ServiceAction.Restart, new[] { spec.UnitName }) };
        yield return new object[] { "remove", NodeOperations.Remove(new[] { spec.UnitName }, force: true, removeDirectory: true) };
        yield return new object[] { "health", NodeOperations.HealthProgram() };
        yield return new object[] { "measure", Throughput.Script(new ThroughputRequest { ReadPrefix = "data/it's" }, new[] { spec.UnitName }, new[] { spec.Path, "/mnt/other" }) };
        yield return new object[] { "sync", NodeOperations.Sync(new SyncRequest(MountMap.FromSpecs(new[] { spec, MountSpec.Create("other", "/mnt/other") })) { Apply = true, Prune = true }) };
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Composed_scripts_are_shellcheck_clean(string op, NodeScript script)
    {
        var shellcheck = Sh.Require("shellcheck");
        // SC2317: library functions an operation does not call look unreachable to shellcheck.
        var (code, output) = Sh.Exec(shellcheck, script.Text, "-s", "sh", "-e", "SC2317", "-");
        Assert.True(code == 0, $"{op}:\n{output}");
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Composed_scripts_parse_in_dash_and_bash(string op, NodeScript script)
    {
        foreach (var shell in new[] { "dash", "bash" })
        {
            var (code, output) = Sh.Exec(Sh.Require(shell), script.Text, "-n");
            Assert.True(code == 0, $"{op} in {shell}: {output}");
        }
    }

    [Fact]
    public void Values_reach_the_script_single_quoted()
    {
        var spec = MountSpec.Create("my-bucket", "/mnt/a'b $(reboot) `id`");
        var text = NodeOperations.Create(new CreateRequest(spec)).Text;
        Assert.Contains("MPATH='/mnt/a'\\''b $(reboot) `id`'\n", text);
        Assert.DoesNotContain("[Service]", text.Substring(0, text.IndexOf("# S3Mount node script library", StringComparison.Ordinal)));
    }

    [Theory]
    [MemberData(nameof(Sh.Shells), MemberType = typeof(Sh))]
    public void Offline_create_list_remove_round_trip(string shell)
    {
        using var root = new ImageRoot();
        var gen = new SpecGenerator(11);
        var specs = Enumerable.Range(0, 6).Select(_ => gen.NextValid() with { User = "ec2-user", Group = null }).GroupBy(s => s.Path).Select(g => g.First()).ToList();
        foreach (var spec in specs)
        {
            var r = NodeResultParser.Create(Sh.Run(shell, NodeOperations.Create(new CreateRequest(spec) { Root = root.Path })).Block());
            Assert.True(r.Changed);
            Assert.Equal(spec.UnitName, r.Service.Name);
            Assert.Equal("enabled", r.Service.UnitFileState);
            Assert.Equal(UnitRenderer.Render(spec), File.ReadAllText(root.Combine("etc/systemd/system/" + spec.UnitName)));
            Assert.Equal("/etc/systemd/system/" + spec.UnitName, new FileInfo(root.Combine("etc/systemd/system/remote-fs.target.wants/" + spec.UnitName)).LinkTarget);
            Assert.True(Directory.Exists(root.Combine(spec.Path)));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(root.Combine(spec.Path)));
        }

        var listed = NodeResultParser.Services(Sh.Run(shell, NodeOperations.List(root: root.Path)).Block());
        Assert.Equal(specs.Select(s => s.UnitName).OrderBy(n => n), listed.Items.Select(s => s.Name).OrderBy(n => n));
        foreach (var s in listed.Items)
        {
            Assert.Equal(specs.Single(x => x.UnitName == s.Name), s.Spec);
            Assert.Equal(UnitOrigin.S3Mount, s.Origin);
            Assert.True(s.Enabled);
        }

        var removed = NodeResultParser.Removals(Sh.Run(shell, NodeOperations.Remove(specs.Select(s => s.UnitName), removeDirectory: true, root: root.Path)).Block());
        Assert.Equal(specs.Count, removed.Items.Count);
        Assert.All(removed.Items, r => Assert.Equal("removed", r.Directory));
        Assert.Empty(Directory.GetFiles(root.Combine("etc/systemd/system")));
        Assert.Empty(NodeResultParser.Services(Sh.Run(shell, NodeOperations.List(root: root.Path)).Block()).Items);
    }

    [Fact]
    public void Applying_the_same_spec_again_changes_nothing()
    {
        using var root = new ImageRoot();
        var spec = MountSpec.Create("my-bucket", "/mnt/s3", user: "ec2-user");
        Sh.Run("dash", NodeOperations.Create(new CreateRequest(spec) { Root = root.Path }));
        var before = root.Snapshot();
        var again = NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(spec) { Root = root.Path })).Block());
        Assert.False(again.Changed);
        Assert.Equal(before, root.Snapshot());
    }

    [Fact]
    public void A_different_spec_needs_force_then_replaces()
    {
        using var root = new ImageRoot();
        var spec = MountSpec.Create("my-bucket", "/mnt/s3");
        Sh.Run("dash", NodeOperations.Create(new CreateRequest(spec) { Root = root.Path }));
        var before = root.Snapshot();
        var changed = spec with { Options = new MountOptions { ReadOnly = true } };
        var e = Assert.Throws<S3MountException>(() => NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(changed) { Root = root.Path })).Block()));
        Assert.Equal("S3MountServiceExists", e.ErrorId);
        Assert.Equal(S3MountErrorKind.ResourceExists, e.Kind);
        Assert.Equal(before, root.Snapshot());
        var forced = NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(changed) { Root = root.Path, Force = true })).Block());
        Assert.True(forced.Changed);
        Assert.True(forced.Service.Options.ReadOnly);
    }

    [Fact]
    public void A_path_used_by_another_bucket_is_refused()
    {
        using var root = new ImageRoot();
        Sh.Run("dash", NodeOperations.Create(new CreateRequest(MountSpec.Create("my-bucket", "/mnt/s3")) { Root = root.Path }));
        var before = root.Snapshot();
        var e = Assert.Throws<S3MountException>(() => NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(MountSpec.Create("other-bucket", "/mnt/s3/")) { Root = root.Path })).Block()));
        Assert.Equal("S3MountPathInUse", e.ErrorId);
        Assert.Equal(before, root.Snapshot());
    }

    [Fact]
    public void A_recipe_unit_for_the_same_bucket_and_path_is_adopted_under_its_name()
    {
        using var root = new ImageRoot();
        var recipe = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "recipe", "uri-trailing-slash.service"));
        Directory.CreateDirectory(root.Combine("usr/lib/systemd/system"));
        var recipeName = UnitNames.For("s3://my-bucket/runs/", "/mnt/runs/");
        File.WriteAllText(root.Combine("usr/lib/systemd/system/" + recipeName), recipe);

        var listed = NodeResultParser.Services(Sh.Run("dash", NodeOperations.List(root: root.Path)).Block()).Items.Single();
        Assert.Equal(UnitOrigin.Recipe, listed.Origin);
        Assert.Equal("/mnt/runs", listed.Path);

        var spec = MountSpec.Create("s3://my-bucket/runs/", "/mnt/runs", options: new MountOptions { ReadOnly = true }, user: "ec2-user", group: "ec2-user");
        Assert.NotEqual(recipeName, spec.UnitName);
        var e = Assert.Throws<S3MountException>(() => NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(spec) { Root = root.Path })).Block()));
        Assert.Equal("S3MountServiceExists", e.ErrorId);
        Assert.Contains("adopt", e.Message);
        var adopted = NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(spec) { Root = root.Path, Force = true })).Block());
        Assert.True(adopted.Adopted);
        Assert.Equal(recipeName, adopted.Service.Name);
        Assert.Equal("/usr/lib/systemd/system/" + recipeName, adopted.Service.UnitPath);
        Assert.Equal(UnitOrigin.S3Mount, adopted.Service.Origin);
        Assert.Equal(spec, adopted.Service.Spec);
        Assert.False(File.Exists(root.Combine("etc/systemd/system/" + spec.UnitName)));
    }

    [Theory]
    [InlineData("# /etc/fuse.conf\n#user_allow_other\n", "# /etc/fuse.conf\nuser_allow_other\n")]
    [InlineData("# /etc/fuse.conf\n# user_allow_other\n", "# /etc/fuse.conf\nuser_allow_other\n")]
    [InlineData("mount_max = 10\n", "mount_max = 10\nuser_allow_other\n")]
    [InlineData("mount_max = 10", "mount_max = 10\nuser_allow_other\n")]
    [InlineData("user_allow_other\n", "user_allow_other\n")]
    public void Fuse_conf_gets_user_allow_other_once_for_non_root_allow_other(string before, string after)
    {
        using var root = new ImageRoot(before);
        var spec = MountSpec.Create("my-bucket", "/mnt/s3", options: new MountOptions { AllowOther = true }, user: "ec2-user");
        Sh.Run("dash", NodeOperations.Create(new CreateRequest(spec) { Root = root.Path }));
        Assert.Equal(after, File.ReadAllText(root.Combine("etc/fuse.conf")));
        Sh.Run("dash", NodeOperations.Create(new CreateRequest(MountSpec.Create("my-bucket", "/mnt/s4", options: new MountOptions { AllowOther = true }, user: "ec2-user")) { Root = root.Path }));
        Assert.Equal(after, File.ReadAllText(root.Combine("etc/fuse.conf")));
    }

    [Fact]
    public void Fuse_conf_is_left_alone_for_root_or_without_allow_other()
    {
        using var root = new ImageRoot();
        var before = File.ReadAllText(root.Combine("etc/fuse.conf"));
        Sh.Run("dash", NodeOperations.Create(new CreateRequest(MountSpec.Create("my-bucket", "/mnt/a", options: new MountOptions { AllowOther = true })) { Root = root.Path }));
        Sh.Run("dash", NodeOperations.Create(new CreateRequest(MountSpec.Create("my-bucket", "/mnt/b", user: "ec2-user")) { Root = root.Path }));
        Assert.Equal(before, File.ReadAllText(root.Combine("etc/fuse.conf")));
    }

    [Fact]
    public void Unknown_user_is_refused_and_nothing_is_written()
    {
        using var root = new ImageRoot();
        var before = root.Snapshot();
        var e = Assert.Throws<S3MountException>(() => NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(MountSpec.Create("my-bucket", "/mnt/s3", user: "ghost")) { Root = root.Path })).Block()));
        Assert.Equal("S3MountUserUnknown", e.ErrorId);
        Assert.Equal(before, root.Snapshot());
    }

    [Fact]
    public void An_image_without_passwd_or_mount_s3_still_gets_a_root_service_with_warnings()
    {
        var root = Directory.CreateTempSubdirectory("s3mount-bare-").FullName;
        try
        {
            var r = NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(MountSpec.Create("my-bucket", "/mnt/s3")) { Root = root })).Block());
            Assert.True(r.Changed);
            Assert.Contains(r.Warnings, w => w.Contains("mount-s3 is not installed"));
            Assert.True(File.Exists(Path.Combine(root, "etc/systemd/system", r.Service.Name)));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Cache_directory_is_private_to_the_service_user()
    {
        using var root = new ImageRoot();
        var spec = MountSpec.Create("my-bucket", "/mnt/s3", options: new MountOptions { CacheDirectory = "/var/cache/s3mount/a b" }, user: "ec2-user");
        Sh.Run("dash", NodeOperations.Create(new CreateRequest(spec) { Root = root.Path }));
        var dir = root.Combine("var/cache/s3mount/a b");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
    }

    [Fact]
    public void Listing_five_mounts_fits_the_2500_characters_SSM_returns_inline()
    {
        using var root = new ImageRoot();
        for (var i = 0; i < 5; i++)
        {
            Sh.Run("dash", NodeOperations.Create(new CreateRequest(MountSpec.Create("genomics-bucket-" + i, "/mnt/data/set-" + i, options: new MountOptions { ReadOnly = true, AllowOther = true, BucketRegion = "us-east-1" }, user: "ec2-user")) { Root = root.Path }));
        }

        var output = Sh.Run("dash", NodeOperations.List(root: root.Path));
        Assert.Equal(5, NodeResultParser.Services(output.Block()).Items.Count);
        // SSM's ListCommandInvocations returns 2,500 characters a node; keep room for a long host name (Linux allows 64).
        Assert.True(output.Stdout.Length < 2300, $"{output.Stdout.Length} characters:\n{output.Stdout}");
    }

    [Fact]
    public void Names_that_do_not_exist_are_per_service_failures()
    {
        using var root = new ImageRoot();
        var r = NodeResultParser.Removals(Sh.Run("dash", NodeOperations.Remove(new[] { "mountpoint-s3-00000000" }, root: root.Path)).Block());
        var f = Assert.Single(r.Failures);
        Assert.Equal("mountpoint-s3-00000000.service", f.Name);
        Assert.Equal("S3MountServiceNotFound", f.Error.ErrorId);
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("mountpoint-s3-x y.service")]
    [InlineData("sshd.service")]
    [InlineData("mountpoint-s3-$(id).service")]
    public void Service_names_are_validated(string name) =>
        Assert.Equal(ErrorIds.NameInvalid, Assert.Throws<S3MountException>(() => NodeOperations.Remove(new[] { name })).ErrorId);

    public static IEnumerable<object[]> Hostile() => HostileCorpus.All.Select(c => new object[] { c });

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_input_is_refused_before_any_script_exists(HostileCorpus.Case c)
    {
        using var root = new ImageRoot();
        var before = root.Snapshot();
        var e = Assert.Throws<S3MountException>(() =>
        {
            var script = NodeOperations.Create(new CreateRequest(c.Build()) { Root = root.Path });
            NodeResultParser.Create(Sh.Run("dash", script).Block());
        });
        Assert.Equal(c.ErrorId, e.ErrorId);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        Assert.Equal(before, root.Snapshot());
    }

    [Fact]
    public void The_hostile_corpus_has_at_least_50_cases() => Assert.True(HostileCorpus.All.Count >= 50, HostileCorpus.All.Count.ToString());
}
