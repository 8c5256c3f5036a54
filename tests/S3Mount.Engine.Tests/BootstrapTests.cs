using System.Diagnostics;
using System.Text;
using S3Mount.Engine.Bootstrap;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Engine.Tests;

public class BootstrapTests(ITestOutputHelper output)
{
    private static readonly MountSpec Hostile = MountSpec.Create("my-bucket", "/mnt/it's a \"test\" $(id) %n `x` S3MOUNT_STEP_END", "runs/",
        new MountOptions { AllowOther = true, CacheDirectory = "/var/cache/s3 x", ReadOnly = true }, user: "ec2-user") with { Environment = new[] { "A=b c $HOME 'q'" } };

    private static BootstrapScript Compose(bool install, params MountSpec[] mounts)
    {
        var r = new BootstrapRequest { Install = install ? BootstrapSamples.Install() : null };
        foreach (var m in mounts)
        {
            r.Mounts.Add(new CreateRequest(m));
        }

        return BootstrapScript.Compose(r);
    }

    // --- what the node runs -------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(Sh.Shells), MemberType = typeof(Sh))]
    public void Each_step_the_node_rebuilds_is_the_engine_script_without_comments(string shell)
    {
        var script = Compose(true, Hostile, BootstrapSamples.Mount(1), BootstrapSamples.Mount(2));
        using var keep = new ImageRoot();
        File.SetUnixFileMode(keep.Path, (UnixFileMode)0x1FF);
        var patched = KeepSteps(script.Text);
        var r = RunArtifact(shell, patched, ("S3B_TEST_KEEP", keep.Path));

        // Not root here: the install step refuses, and no mount step runs after a failed install.
        Assert.Equal(1, r.ExitCode);
        Assert.Single(Directory.GetFiles(keep.Path));
        var rebuilt = File.ReadAllText(Path.Combine(keep.Path, "1.sh"));
        Assert.Equal(script.StepText(0), rebuilt);

        // StepText is the engine's composed script with the comments, blank lines and indentation of its files removed,
        // and the lib.sh functions no step calls left out; the prologue (all the values) is the engine's, byte for byte.
        for (var i = 0; i < script.Steps.Count; i++)
        {
            var step = script.Steps[i].Script;
            var text = script.StepText(i);
            // (but for the health check program, which the node rebuilds from the same files: see WithProgramText)
            string NoProgram(string t) => System.Text.RegularExpressions.Regex.Replace(t, "^" + NodeOperations.HealthProgramParameter + "='[^']*'\n", string.Empty, System.Text.RegularExpressions.RegexOptions.Multiline);
            Assert.StartsWith(NoProgram(step.Prologue), NoProgram(text), StringComparison.Ordinal);
            var engine = Lines(string.Concat(step.Sources.Select(n => ShellCompaction.Compact(NodeScript.Source(n)) + "\n")));
            var node = Lines(NoProgram(text).Substring(NoProgram(step.Prologue).Length));
            var removed = Subsequence(node, engine);
            var removedFunctions = removed.Select(l => System.Text.RegularExpressions.Regex.Match(l, "^([a-z0-9_]+)\\(\\)").Groups[1].Value).Where(n => n.Length > 0).ToList();
            Assert.NotEmpty(removedFunctions);
            Assert.All(removedFunctions, f => Assert.DoesNotMatch("(?<![a-z0-9_])" + f + "(?![a-z0-9_])", text));
        }

        Assert.Equal(script.Steps.Select(s => s.Script.Operation), new[] { "install", "create", "create", "create" });
        Assert.Equal(NodeOperations.Create(new CreateRequest(Hostile)).Prologue, script.Steps[1].Script.Prologue);
        Assert.Equal(InstallOperations.Install(BootstrapSamples.Install()).Prologue, script.Steps[0].Script.Prologue);
    }

    [Theory]
    [MemberData(nameof(Sh.Shells), MemberType = typeof(Sh))]
    public void Every_create_step_runs_and_prints_its_whole_result_block_on_stdout(string shell)
    {
        var script = Compose(false, Hostile, BootstrapSamples.Mount(1));
        using var keep = new ImageRoot();
        File.SetUnixFileMode(keep.Path, (UnixFileMode)0x1FF);
        var patched = KeepSteps(script.Text);
        var r = RunArtifact(shell, patched, ("S3B_TEST_KEEP", keep.Path));

        Assert.Equal(1, r.ExitCode);
        for (var i = 0; i < script.Steps.Count; i++)
        {
            // The health check program: rebuilt and gzipped on the node (other gzip bytes, the same text).
            Assert.Equal(WithProgramText(script.StepText(i)), WithProgramText(File.ReadAllText(Path.Combine(keep.Path, (i + 1) + ".sh"))));
        }

        Assert.Contains(NodeOperations.HealthProgramParameter + "='", script.StepText(1), StringComparison.Ordinal);
        Assert.Contains("\nprobe() {\n", script.HealthProgramText, StringComparison.Ordinal);

        // stdout: nothing but the steps' result blocks, each whole, in order; each says why the step failed here.
        var blocks = r.Stdout.Split(ResultBlock.EndMarker + "\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, blocks.Length);
        Assert.All(blocks, b =>
        {
            Assert.StartsWith(ResultBlock.BeginMarker + " 1\n", b, StringComparison.Ordinal);
            var e = NodeResultParser.ErrorOf(ResultBlock.Parse(b + ResultBlock.EndMarker + "\n"), null);
            Assert.NotNull(e);
            Assert.Contains(e!.ErrorId, new[] { "S3MountNotRoot", "S3MountNoSystemd" });
        });

        // stderr: a line per step and a closing line that names what failed.
        Assert.Contains("s3mount-bootstrap: step 1 of 2, " + script.Steps[0].Label + "\n", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("s3mount-bootstrap: step 2 of 2, " + script.Steps[1].Label + ": FAILED", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("s3mount-bootstrap: FAILED: " + script.Steps[0].Label, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("0 of 2 steps succeeded", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_consumer_of_stderr_that_went_away_does_not_stop_the_steps()
    {
        var script = Compose(false, BootstrapSamples.Mount(0), BootstrapSamples.Mount(1));
        using var dir = new ImageRoot();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0x1FF);
        var file = Path.Combine(dir.Path, "b.sh");
        File.WriteAllText(file, script.Text);
        var outFile = Path.Combine(dir.Path, "out");

        // stderr is a pipe whose reader has exited: every diagnostic write meets EPIPE.
        var r = RunArtifact("dash", $"/bin/sh '{file}' 2>&1 >'{outFile}' | true\ncat '{outFile}'\n");
        var blocks = r.Stdout.Split(ResultBlock.EndMarker + "\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, blocks.Length);
        Assert.All(blocks, b => Assert.StartsWith(ResultBlock.BeginMarker + " 1\n", b, StringComparison.Ordinal));
    }

    [Fact]
    public void A_failed_install_skips_the_mounts_with_a_clear_line_and_exit_1()
    {
        var script = Compose(true, BootstrapSamples.Mount(0), BootstrapSamples.Mount(1));
        var r = RunArtifact("dash", script.Text);
        Assert.Equal(1, r.ExitCode);
        var block = ResultBlock.Parse(r.Stdout);
        Assert.Equal("S3MountNotRoot", block.First("error")![0]);
        Assert.Single(r.Stdout.Split('\n'), l => l.StartsWith(ResultBlock.BeginMarker, StringComparison.Ordinal));
        Assert.Contains("step 2 of 3, " + script.Steps[1].Label + ": not run, mount-s3 was not installed", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("step 3 of 3, " + script.Steps[2].Label + ": not run", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("FAILED: " + script.Steps[0].Label + " (S3MountNotRoot)", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void The_artifact_and_every_step_are_shellcheck_clean_and_parse_in_dash_and_bash()
    {
        var shellcheck = Sh.Require("shellcheck");
        foreach (var script in new[] { Compose(true, Hostile, BootstrapSamples.Mount(1)), BootstrapSamples.Script(16, true), Compose(false, BootstrapSamples.Mount(3)) })
        {
            var (code, text) = Sh.Exec(shellcheck, script.Text, "-s", "sh", "-");
            Assert.True(code == 0, text);
            foreach (var shell in new[] { "dash", "bash" })
            {
                (code, text) = Sh.Exec(Sh.Require(shell), script.Text, "-n");
                Assert.True(code == 0, shell + ": " + text);
            }

            for (var i = 0; i < script.Steps.Count; i++)
            {
                // SC2317: a library function one step does not call looks unreachable (the others call it).
                (code, text) = Sh.Exec(shellcheck, script.StepText(i), "-s", "sh", "-e", "SC2317", "-");
                Assert.True(code == 0, $"step {i + 1}:\n{text}");
            }
        }
    }

    [Fact]
    public void The_unit_travels_as_text_and_reaches_the_step_in_the_engines_base64()
    {
        var script = Compose(false, Hostile);
        var unit = Units.UnitRenderer.Render(Hostile);
        Assert.Contains("s3b_file text.s1unit <<'S3MOUNT_TEXT_END'\n" + unit + "S3MOUNT_TEXT_END\n", script.Text, StringComparison.Ordinal);
        Assert.Contains("\nUNIT_B64=@s1unit\n", script.Text, StringComparison.Ordinal);
        Assert.Contains("\nUNIT_B64='" + Convert.ToBase64String(Encoding.UTF8.GetBytes(unit)) + "'\n", script.StepText(0), StringComparison.Ordinal);

        // The path holds the step delimiter's name: the here-documents still end where they should.
        Assert.Contains("S3MOUNT_STEP_END", Hostile.Path, StringComparison.Ordinal);
        var (code, text) = Sh.Exec(Sh.Require("dash"), script.Text, "-n");
        Assert.True(code == 0, text);
    }

    [Fact]
    public void The_mounts_hold_to_the_rules_of_a_mount_map()
    {
        var a = BootstrapSamples.Mount(0);
        foreach (var (other, id) in new[]
        {
            (a, ErrorIds.MapDuplicatePath),
            (MountSpec.Create("another-bucket", a.Path), ErrorIds.MapPathConflict),
            (MountSpec.Create("another-bucket", a.Path + "/inner"), ErrorIds.MapNested),
        })
        {
            var e = Assert.Throws<MountMapException>(() => Compose(false, a, other));
            Assert.Equal(ErrorIds.MapInvalid, e.ErrorId);
            Assert.Equal(id, Assert.Single(e.Problems).ErrorId);
        }
    }

    [Theory]
    [InlineData("AWS_SECRET_ACCESS_KEY=abc")]
    [InlineData("AWS_SESSION_TOKEN=abc")]
    [InlineData("AWS_ACCESS_KEY_ID=AKIA0000")]
    public void Credentials_in_a_mounts_environment_are_refused(string entry)
    {
        var e = Assert.Throws<S3MountException>(() => Compose(false, BootstrapSamples.Mount(0) with { Environment = new[] { "AWS_REGION=us-east-1", entry } }));
        Assert.Equal(BootstrapErrorIds.SecretRefused, e.ErrorId);
        Assert.Equal(S3MountErrorKind.SecurityError, e.Kind);
        Assert.DoesNotContain("abc", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nothing_to_do_and_an_image_root_are_refused()
    {
        Assert.Equal(BootstrapErrorIds.Empty, Assert.Throws<S3MountException>(() => BootstrapScript.Compose(new BootstrapRequest())).ErrorId);
        var r = new BootstrapRequest();
        r.Mounts.Add(new CreateRequest(BootstrapSamples.Mount(0)) { Root = "/tmp/image" });
        Assert.Equal(BootstrapErrorIds.ParameterConflict, Assert.Throws<S3MountException>(() => BootstrapScript.Compose(r)).ErrorId);
        Assert.Single(Compose(true).Steps);
    }

    public static IEnumerable<object[]> HostileCases() => HostileCorpus.All.Select(c => new object[] { c });

    [Theory]
    [MemberData(nameof(HostileCases))]
    public void Hostile_mounts_are_refused_before_any_bootstrap_exists(HostileCorpus.Case c)
    {
        var e = Assert.Throws<S3MountException>(() => Compose(false, c.Build()));
        Assert.Equal(c.ErrorId, e.ErrorId);
    }

    [Fact]
    public void Without_a_presigned_source_there_are_no_signed_urls_and_with_one_the_expiry_is_stated()
    {
        Assert.DoesNotContain("X-Amz-", BootstrapSamples.Script(4, true).Text, StringComparison.Ordinal);
        Assert.False(BootstrapSamples.Script(4, true).HasPresignedUrls);

        var presigner = new S3PackagePresigner(new Amazon.Runtime.BasicAWSCredentials("AKIAEXAMPLEEXAMPLE01", "secret/key/never/in/the/artifact/0000000"), Amazon.RegionEndpoint.USEast1);
        var install = presigner.Presign(InstallRequest.FromS3("s3://pkg-bucket/mount-s3/1.23.0/mount-s3.deb"), TimeSpan.FromDays(2));
        var until = new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        var r = new BootstrapRequest { Install = install, PresignedUntilUtc = until };
        r.Mounts.Add(new CreateRequest(BootstrapSamples.Mount(0)));
        var script = BootstrapScript.Compose(r);
        Assert.True(script.HasPresignedUrls);
        Assert.Contains("# The install step downloads s3://pkg-bucket/mount-s3/1.23.0/mount-s3.deb through presigned URLs that anyone holding this script can use, until 2030-01-02T03:04:05Z;", script.Text, StringComparison.Ordinal);
        Assert.Contains("X-Amz-Signature=", script.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("secret/key", script.Text, StringComparison.Ordinal);
        Assert.Contains("(presigned)", script.Description[0], StringComparison.Ordinal);
        Assert.DoesNotContain("X-Amz-", string.Join("\n", script.Description), StringComparison.Ordinal);
    }

    // A step's HEALTH_PROGRAM_GZ value as the text it decodes to.
    private static string WithProgramText(string step) =>
        System.Text.RegularExpressions.Regex.Replace(step, "^" + NodeOperations.HealthProgramParameter + "='([A-Za-z0-9+/=]+)'$", m =>
        {
            using var gz = new System.IO.Compression.GZipStream(new MemoryStream(Convert.FromBase64String(m.Groups[1].Value)), System.IO.Compression.CompressionMode.Decompress);
            using var r = new StreamReader(gz);
            return "HEALTH_PROGRAM_TEXT<<\n" + r.ReadToEnd() + "\nHEALTH_PROGRAM_TEXT";
        }, System.Text.RegularExpressions.RegexOptions.Multiline);

    // --- sizes --------------------------------------------------------------------------------------------------

    [Fact]
    public void Four_mounts_fit_in_gzip_compressed_EC2_user_data_in_every_user_data_format_but_not_with_an_install_step()
    {
        // Since the back-off and the health check (issue 12) the node scripts are about 3.8 KB larger compressed: four
        // mounts fit, an install step on top of them no longer does self-contained. Then the user data is a loader
        // that downloads the script (-ScriptUri; BootstrapLoaderTests), or Mountpoint is installed in the image.
        var script = BootstrapSamples.Script(4, false);
        foreach (var format in new[] { BootstrapFormat.Shell, BootstrapFormat.CloudConfig, BootstrapFormat.Mime })
        {
            var a = BootstrapArtifact.Build(script, format, compress: true);
            Assert.True(a.Bytes.Length <= BootstrapArtifact.UserDataLimit, $"{format}: {a.Bytes.Length}");
            Assert.True(a.IsUserData);
            Assert.Equal(BootstrapErrorIds.TooLarge, Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(BootstrapSamples.Script(4, true), format, compress: true)).ErrorId);
        }
    }

    [Fact]
    public void User_data_that_cannot_fit_is_refused_with_its_size()
    {
        var e = Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(BootstrapSamples.Script(16, true), BootstrapFormat.Mime, compress: true));
        Assert.Equal(BootstrapErrorIds.TooLarge, e.ErrorId);
        Assert.Matches("is [0-9,]+ bytes gzip-compressed; EC2 takes at most 16,384 bytes", e.Message);
        e = Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(BootstrapSamples.Script(1, true), BootstrapFormat.CloudConfig));
        Assert.Equal(BootstrapErrorIds.TooLarge, e.ErrorId);
        Assert.Contains("-Compress", e.Message, StringComparison.Ordinal);

        // A Shell script is not held to the limit (ParallelCluster and images run it as a file); gzip makes it user data.
        var shell = BootstrapArtifact.Build(BootstrapSamples.Script(16, true), BootstrapFormat.Shell);
        Assert.True(shell.Bytes.Length > BootstrapArtifact.UserDataLimit);
        Assert.False(shell.IsUserData);
        Assert.Equal(BootstrapErrorIds.TooLarge, Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(BootstrapSamples.Script(16, true), BootstrapFormat.Shell, compress: true)).ErrorId);
    }

    [Fact]
    public void Sizes_for_1_4_and_16_mounts_with_and_without_install()
    {
        var rows = new List<string> { "| mounts | install | Shell | Shell -Compress | CloudConfig | CloudConfig -Compress | Mime | Mime -Compress | ParallelCluster script |", "|---|---|---|---|---|---|---|---|---|" };
        foreach (var n in new[] { 1, 4, 16 })
        {
            foreach (var install in new[] { false, true })
            {
                var script = BootstrapSamples.Script(n, install);
                string Size(BootstrapFormat f, bool compress)
                {
                    try
                    {
                        return BootstrapArtifact.Build(script, f, compress, scriptUri: f == BootstrapFormat.ParallelCluster ? "s3://cluster-assets/s3mount/bootstrap.sh" : null).Bytes.Length.ToString("N0");
                    }
                    catch (S3MountException e) when (e.ErrorId == BootstrapErrorIds.TooLarge)
                    {
                        return "refused (" + e.Message.Split(" is ")[1].Split(" bytes")[0] + ")";
                    }
                }

                rows.Add($"| {n} | {(install ? "yes" : "no")} | {Size(BootstrapFormat.Shell, false)} | {Size(BootstrapFormat.Shell, true)} | {Size(BootstrapFormat.CloudConfig, false)} | {Size(BootstrapFormat.CloudConfig, true)} | {Size(BootstrapFormat.Mime, false)} | {Size(BootstrapFormat.Mime, true)} | {Size(BootstrapFormat.ParallelCluster, false)} |");
            }
        }

        output.WriteLine(string.Join("\n", rows));
    }

    // --- the documents ------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void CloudConfig_writes_the_script_or_its_loader_byte_for_byte_and_runs_it_once(bool compress, bool loader)
    {
        // Uncompressed, only a loader fits in user data.
        var script = Compose(loader, Hostile, BootstrapSamples.Mount(1));
        var a = BootstrapArtifact.Build(script, BootstrapFormat.CloudConfig, compress, scriptUri: loader ? "https://example.com/s3mount/boot.sh" : null);
        var (path, payload) = loader ? (BootstrapLoader.NodePath, a.Loader!.Text) : (BootstrapScript.NodePath, script.Text);

        // The loader's text ends with a blank line: the compressed document's block scalar (|+) must keep it.
        Assert.Equal(loader, payload.EndsWith("\n\n", StringComparison.Ordinal));
        var text = Encoding.UTF8.GetString(compress ? BootstrapArtifact.Gunzip(a.Bytes) : a.Bytes);
        Assert.StartsWith("#cloud-config\n", text, StringComparison.Ordinal);
        var parsed = Python("""
            import sys, yaml, json, base64, gzip
            d = yaml.safe_load(sys.stdin.read())
            f = d['write_files'][0]
            c = f['content']
            if f.get('encoding') == 'gz+b64':
                c = gzip.decompress(base64.b64decode(c)).decode('utf-8')
            print(json.dumps({'path': f['path'], 'perm': f['permissions'], 'owner': f['owner'], 'runcmd': d['runcmd'], 'merge': d['merge_how'], 'content': c}))
            """, text);
        using var json = System.Text.Json.JsonDocument.Parse(parsed);
        var root = json.RootElement;
        Assert.Equal(path, root.GetProperty("path").GetString());
        Assert.Equal("0700", root.GetProperty("perm").GetString());
        Assert.Equal("root:root", root.GetProperty("owner").GetString());
        Assert.Equal("[[\"/bin/sh\",\"" + path + "\"]]", root.GetProperty("runcmd").GetRawText().Replace(" ", string.Empty, StringComparison.Ordinal));
        Assert.Equal(payload, root.GetProperty("content").GetString());
    }

    [Theory]
    [InlineData(true)]
    public void Mime_is_a_multipart_document_whose_part_is_the_script(bool compress)
    {
        var script = Compose(false, Hostile);
        var a = BootstrapArtifact.Build(script, BootstrapFormat.Mime, compress);
        var text = Encoding.UTF8.GetString(compress ? BootstrapArtifact.Gunzip(a.Bytes) : a.Bytes);
        var parts = MimeParts(text);
        var part = Assert.Single(parts);
        Assert.Equal("s3mount-bootstrap.sh", part.Filename);
        Assert.Equal(compress ? "text/x-shellscript" : "application/gzip", part.Type);
        Assert.Equal(script.Text, part.Script);
    }

    public static IEnumerable<object[]> Existing()
    {
        const string nodeConfig = "---\napiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: my-cluster\n    apiServerEndpoint: https://example.com\n    certificateAuthority: Y2VydGlmaWNhdGVBdXRob3JpdHk=\n    cidr: 10.100.0.0/16\n";
        var mime = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BOUNDARY\"\n\n--BOUNDARY\nContent-Type: application/node.eks.aws\n\n" + nodeConfig + "\n--BOUNDARY\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n#!/bin/bash\necho mine > /root/mine\n\n--BOUNDARY--\n";
        yield return new object[] { "MIME with a NodeConfig and a script", mime, 2 };
        yield return new object[] { "the same with CRLF line ends", mime.Replace("\n", "\r\n", StringComparison.Ordinal), 2 };
        yield return new object[] { "the same in base64, as EC2 returns it", Convert.ToBase64String(Encoding.UTF8.GetBytes(mime)), 2 };
        yield return new object[] { "the same gzip-compressed, in base64", Convert.ToBase64String(BootstrapArtifact.Gzip(Encoding.UTF8.GetBytes(mime))), 2 };
        yield return new object[] { "a NodeConfig alone", nodeConfig, 1 };
        yield return new object[] { "a shell script alone", "#!/bin/bash\necho mine > /root/mine\n", 1 };
        yield return new object[] { "a cloud-config alone", "#cloud-config\npackages: [jq]\n", 1 };
        yield return new object[] { "MIME without its closing delimiter", mime.Replace("--BOUNDARY--\n", string.Empty, StringComparison.Ordinal), 2 };
    }

    [Theory]
    [MemberData(nameof(Existing))]
    public void Mime_keeps_every_part_of_the_document_it_merges_with(string what, string existing, int parts)
    {
        var script = Compose(false, BootstrapSamples.Mount(0));
        var text = Encoding.UTF8.GetString(BootstrapArtifact.Gunzip(BootstrapArtifact.Build(script, BootstrapFormat.Mime, compress: true, mergeWith: existing).Bytes));
        var found = MimeParts(text);
        Assert.True(found.Count == parts + 1, what + ": " + string.Join(", ", found.Select(p => p.Type)));
        // The script comes back byte for byte as cloud-init's reader decodes it: in a CRLF document it travels gzipped in
        // base64, since a plain part would be read back with CRLF line ends and "#!/bin/sh\r" would run nothing.
        Assert.Equal(script.Text, found[^1].Script);
        Assert.Equal(what.Contains("CRLF", StringComparison.Ordinal) ? "application/gzip" : "text/x-shellscript", found[^1].Type);
        var plain = existing.Contains('\n', StringComparison.Ordinal) ? existing : Encoding.UTF8.GetString(Decode(existing));
        if (plain.StartsWith("MIME-Version", StringComparison.Ordinal))
        {
            // A MIME document keeps its bytes: the new part is inserted before its closing delimiter, nothing else changes.
            var close = plain.IndexOf("--BOUNDARY--", StringComparison.Ordinal);
            Assert.StartsWith(close < 0 ? plain : plain[..close], text, StringComparison.Ordinal);
            var nl = plain.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";
            Assert.EndsWith("--BOUNDARY--" + nl, text, StringComparison.Ordinal);
        }

        if (plain.Contains("NodeConfig", StringComparison.Ordinal))
        {
            // The NodeConfig reaches its reader as it was written, to its last line break.
            var nc = Assert.Single(found, p => p.Type == "application/node.eks.aws");
            Assert.EndsWith("    cidr: 10.100.0.0/16\n", nc.Payload.Replace("\r\n", "\n", StringComparison.Ordinal), StringComparison.Ordinal);
        }

        if (!plain.StartsWith("MIME-Version", StringComparison.Ordinal))
        {
            // A single document becomes the first part, byte for byte.
            Assert.Equal(plain, found[0].Payload);
        }
    }

    [Fact]
    public void Mime_refuses_what_it_cannot_merge_with()
    {
        var script = Compose(false, BootstrapSamples.Mount(0));
        foreach (var bad in new[] { "just some text\n", " \n", "MIME-Version: 1.0\nContent-Type: multipart/mixed\n\nbody\n" })
        {
            var e = Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(script, BootstrapFormat.Mime, compress: true, mergeWith: bad));
            Assert.Equal(BootstrapErrorIds.UserDataInvalid, e.ErrorId);
        }

        // Merging with a document that already carries a bootstrap would make the node run two.
        var once = Encoding.UTF8.GetString(BootstrapArtifact.Gunzip(BootstrapArtifact.Build(script, BootstrapFormat.Mime, compress: true).Bytes));
        Assert.Equal(BootstrapErrorIds.UserDataInvalid, Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(script, BootstrapFormat.Mime, compress: true, mergeWith: once)).ErrorId);
        Assert.Equal(BootstrapErrorIds.ParameterConflict, Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(script, BootstrapFormat.Shell, mergeWith: "#!/bin/sh\n")).ErrorId);
    }

    [Fact]
    public void ParallelCluster_gives_the_script_and_the_keys_that_run_it_and_grant_its_buckets()
    {
        var ap = MountSpec.Create("arn:aws:s3:us-east-1:123456789012:accesspoint/my-ap", "/fsx/ap", options: new MountOptions { ReadOnly = true });
        var script = Compose(true, BootstrapSamples.Mount(0), BootstrapSamples.Mount(1), BootstrapSamples.Mount(1) with { Path = "/fsx/results-again" }, ap);
        var a = BootstrapArtifact.Build(script, BootstrapFormat.ParallelCluster, scriptUri: "s3://cluster-assets/s3mount/it's.sh");
        Assert.Equal(script.Text, a.Text);
        var parsed = Python("""
            import sys, yaml, json
            print(json.dumps(yaml.safe_load(sys.stdin.read())))
            """, a.Configuration!);
        using var json = System.Text.Json.JsonDocument.Parse(parsed);
        var root = json.RootElement;
        Assert.Equal("s3://cluster-assets/s3mount/it's.sh", root.GetProperty("CustomActions").GetProperty("OnNodeConfigured").GetProperty("Script").GetString());
        var access = root.GetProperty("Iam").GetProperty("S3Access").EnumerateArray().Select(e => (
            Bucket: e.GetProperty("BucketName").GetString(),
            Key: e.TryGetProperty("KeyName", out var k) ? k.GetString() : null,
            Write: e.GetProperty("EnableWriteAccess").GetBoolean())).ToList();
        Assert.Equal(new (string?, string?, bool)[]
        {
            ("cluster-assets", "s3mount/it's.sh", false),
            (BootstrapSamples.Mount(0).Bucket, null, false),
            (BootstrapSamples.Mount(1).Bucket, null, true),
        }, access);
        Assert.Contains("# S3Access cannot name arn:aws:s3:us-east-1:123456789012:accesspoint/my-ap", a.Configuration!, StringComparison.Ordinal);

        Assert.Equal(BootstrapErrorIds.ScriptUriInvalid, Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(script, BootstrapFormat.ParallelCluster, scriptUri: "ftp://x/y")).ErrorId);
        Assert.Equal(BootstrapErrorIds.ScriptUriInvalid, Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(script, BootstrapFormat.ParallelCluster)).ErrorId);
        Assert.Equal(BootstrapErrorIds.ParameterConflict, Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(script, BootstrapFormat.ParallelCluster, compress: true, scriptUri: "s3://a-b/c")).ErrorId);
        Assert.NotNull(BootstrapArtifact.Build(script, BootstrapFormat.ParallelCluster, scriptUri: "https://example.com/s3mount.sh").Configuration);
    }

    [Fact]
    public void The_same_input_gives_the_same_bytes()
    {
        foreach (var f in new[] { BootstrapFormat.Shell, BootstrapFormat.CloudConfig, BootstrapFormat.Mime })
        {
            Assert.Equal(BootstrapArtifact.Build(BootstrapSamples.Script(4, false), f, compress: true).Sha256, BootstrapArtifact.Build(BootstrapSamples.Script(4, false), f, compress: true).Sha256);
        }
    }

    // --- compaction ---------------------------------------------------------------------------------------------

    [Fact]
    public void Compaction_removes_comments_blank_lines_and_indentation_outside_quotes_only()
    {
        const string source = "#!/bin/sh\n# a comment\n  # shellcheck disable=SC2086\n  echo $x  # trailing stays\n\nv='\n# data, not a comment\n  indented data\n'\nw=\"$(printf '%s' \"a\n# inside a substitution\")\"\nf() {\n    : # x\n}\n";
        var compact = ShellCompaction.Compact(source);
        Assert.Equal("#!/bin/sh\n# shellcheck disable=SC2086\necho $x  # trailing stays\nv='\n# data, not a comment\n  indented data\n'\nw=\"$(printf '%s' \"a\n# inside a substitution\")\"\nf() {\n: # x\n}\n", compact);
        Assert.Throws<NotSupportedException>(() => ShellCompaction.Compact("cat <<EOF\n# x\nEOF\n"));
        Assert.Throws<ArgumentException>(() => ShellCompaction.Compact("x='open\n"));

        // Every embedded file compacts (no here-documents, balanced quotes), and only whole-line comments, blank lines and
        // indentation go: the compacted lines, trimmed, are the original's non-comment lines, trimmed, in order.
        foreach (var name in new[] { "lib", "create", "install", "mountpoint", "list", "repair", "control", "remove", "report", "bootstrap" })
        {
            var original = NodeScript.Source(name);
            var kept = ShellCompaction.Compact(original).Split('\n').Select(l => l.Trim()).ToList();
            Assert.Equal(original.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && (!l.StartsWith('#') || l.StartsWith("# shellcheck ", StringComparison.Ordinal))).ToList(), kept.Where(l => l.Length > 0).ToList());
            Assert.DoesNotContain("eval ", original, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Unused_library_functions_are_left_out_and_what_is_called_stays_with_what_it_calls()
    {
        const string lib = "top=1\nused() { helper; }\n# shellcheck disable=SC2317\nunused() {\n  echo no\n}\nhelper() {\n  echo yes\n}\nviatop() { :; }\ntrap 'viatop' EXIT\n";
        Assert.Equal("top=1\nused() { helper; }\nhelper() {\n  echo yes\n}\nviatop() { :; }\ntrap 'viatop' EXIT\n", ShellCompaction.WithoutUnusedFunctions(lib, new[] { "used" }));

        var libText = ShellCompaction.Compact(NodeScript.Source("lib"));
        var forCreate = ShellCompaction.WithoutUnusedFunctions(libText, new[] { ShellCompaction.Compact(NodeScript.Source("create")) });
        Assert.Contains("emit_states()", forCreate, StringComparison.Ordinal);
        Assert.Contains("s3m_cleanup()", forCreate, StringComparison.Ordinal);
        Assert.DoesNotContain("select_units()", forCreate, StringComparison.Ordinal);
    }

    // --- helpers ------------------------------------------------------------------------------------------------

    private static List<string> Lines(string text) => text.Split('\n').ToList();

    // The artifact with one line added: each rebuilt step is copied to $S3B_TEST_KEEP before it runs.
    private static string KeepSteps(string text)
    {
        const string run = "\n/bin/sh \"$s3b_f.sh\" </dev/null";
        Assert.Contains(run, text, StringComparison.Ordinal);
        return text.Replace(run, "\ncp -- \"$s3b_f.sh\" \"$S3B_TEST_KEEP/$S3B_STEP.sh\"" + run, StringComparison.Ordinal);
    }

    // Asserts that every line of `part` appears in `whole` in the same order; returns the lines of `whole` it leaves out.
    private static List<string> Subsequence(List<string> part, List<string> whole)
    {
        var left = new List<string>();
        var i = 0;
        foreach (var line in whole)
        {
            if (i < part.Count && part[i] == line)
            {
                i++;
            }
            else
            {
                left.Add(line);
            }
        }

        Assert.True(i == part.Count, "not in the engine's script, in order: " + (i < part.Count ? part[i] : string.Empty));
        return left;
    }

    private sealed record MimePart(string Type, string? Filename, string Payload, string? Script);

    // Python's email package reads the document the way cloud-init does (util.message_from_string, then walk()).
    private static List<MimePart> MimeParts(string document)
    {
        var json = Python("""
            import sys, json, email, gzip
            msg = email.message_from_string(sys.stdin.read())
            assert msg.is_multipart(), 'not multipart'
            out = []
            for part in msg.walk():
                if part.is_multipart():
                    continue
                raw = part.get_payload(decode=True)
                script = None
                if part.get_content_type() == 'application/gzip':
                    script = gzip.decompress(raw).decode('utf-8')
                elif part.get_content_type() == 'text/x-shellscript' and part.get_filename() == 's3mount-bootstrap.sh':
                    script = raw.decode('utf-8')
                out.append({'type': part.get_content_type(), 'filename': part.get_filename(), 'payload': raw.decode('utf-8', 'replace'), 'script': script})
            print(json.dumps(out))
            """, document);
        return System.Text.Json.JsonSerializer.Deserialize<List<Dictionary<string, string?>>>(json)!
            .Select(d => new MimePart(d["type"]!, d["filename"], d["payload"] ?? string.Empty, d["script"])).ToList();
    }

    private static byte[] Decode(string base64)
    {
        var b = Convert.FromBase64String(base64);
        return b[0] == 0x1f ? BootstrapArtifact.Gunzip(b) : b;
    }

    private static string Python(string program, string stdin)
    {
        var python = Sh.Require("python3");
        var (code, text) = Sh.Exec(python, stdin, "-c", program);
        Assert.True(code == 0, text);
        return text;
    }

    // Runs an artifact on this machine as a user that cannot change it (nobody, when the tests run as root): every step
    // refuses before it writes anything, which is what these tests look at.
    private static ScriptOutput RunArtifact(string shell, string text, params (string Name, string Value)[] env)
    {
        var file = Path.Combine(Path.GetTempPath(), "s3mount-bootstrap-test-" + Guid.NewGuid().ToString("N") + ".sh");
        File.WriteAllText(file, text, new UTF8Encoding(false));
        File.SetUnixFileMode(file, (UnixFileMode)0x1A4);
        try
        {
            var asRoot = Environment.UserName == "root";
            var psi = new ProcessStartInfo(asRoot ? Sh.Require("setpriv") : Sh.Require(shell)) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            if (asRoot)
            {
                foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--", Sh.Require(shell) })
                {
                    psi.ArgumentList.Add(a);
                }
            }

            psi.ArgumentList.Add(file);
            psi.Environment.Remove("JOURNAL_STREAM");
            foreach (var (name, value) in env)
            {
                psi.Environment[name] = value;
            }

            using var p = Process.Start(psi)!;
            p.StandardInput.Close();
            var so = p.StandardOutput.ReadToEndAsync();
            var se = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(120_000), "the bootstrap did not finish");
            return new ScriptOutput(p.ExitCode, so.Result, se.Result);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
