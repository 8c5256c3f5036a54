using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using S3Mount.Engine.Bootstrap;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Tests;

/// <summary>
/// The loader that user data carries when the bootstrap does not fit (-ScriptUri): where it downloads from, that it
/// fits, that it lints, and what it does when run under dash and bash against a loopback HTTP server standing in for S3,
/// an https host and the instance metadata service: it runs only the script it was exported with, signs an s3://
/// download as botocore signs it, and takes the instance role's credentials through IMDSv2.
/// </summary>
public class BootstrapLoaderTests(ITestOutputHelper output)
{
    private const string Harmless = "#!/bin/sh\necho 'result from the script'\necho 'diagnostic from the script' >&2\n[ -z \"${MARK:-}\" ] || : >\"$MARK\"\nexit 3\n";

    [Theory]
    [InlineData("s3://cluster-assets/s3mount/boot.sh", "us-east-1", null, "https://cluster-assets.s3.us-east-1.amazonaws.com/s3mount/boot.sh")]
    [InlineData("s3://cluster.assets.example/boot.sh", "eu-west-1", null, "https://s3.eu-west-1.amazonaws.com/cluster.assets.example/boot.sh")]
    [InlineData("s3://cluster-assets/boot.sh", "cn-north-1", null, "https://cluster-assets.s3.cn-north-1.amazonaws.com.cn/boot.sh")]
    [InlineData("s3://cluster-assets/a dir/b+c~d_é.sh", "us-west-2", null, "https://cluster-assets.s3.us-west-2.amazonaws.com/a%20dir/b%2Bc~d_%C3%A9.sh")]
    [InlineData("s3://cluster-assets/k/boot.sh", "us-east-1", "https://bucket.vpce-0abc.s3.us-east-1.vpce.amazonaws.com/", "https://bucket.vpce-0abc.s3.us-east-1.vpce.amazonaws.com/cluster-assets/k/boot.sh")]
    [InlineData("s3://cluster-assets/k/boot.sh", "us-east-1", "http://127.0.0.1:4568", "http://127.0.0.1:4568/cluster-assets/k/boot.sh")]
    [InlineData("https://assets.example.com/s3mount/boot.sh?v=2", null, null, "https://assets.example.com/s3mount/boot.sh?v=2")]
    [InlineData("http://127.0.0.1:8080/boot.sh", null, null, "http://127.0.0.1:8080/boot.sh")]
    public void The_loader_downloads_from_the_S3_REST_URL_of_an_object_or_the_https_URL_as_given(string uri, string? region, string? endpoint, string url)
    {
        var loader = BootstrapLoader.For(BootstrapSamples.Script(1, false), uri, region, endpoint);
        Assert.Equal(url, loader.Url);
        Assert.Equal(uri.StartsWith("s3://", StringComparison.Ordinal) ? region : null, loader.Region);
        Assert.Contains("S3L_URL=" + Scripts.NodeScript.ShellQuote(url) + "\n", loader.Text, StringComparison.Ordinal);
        Assert.Contains("S3L_REGION=" + Scripts.NodeScript.ShellQuote(loader.Region ?? string.Empty) + "\n", loader.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://assets.example.com/boot.sh", null, null)]
    [InlineData("http://assets.example.com/boot.sh", null, null)]
    [InlineData("https://user:secret@assets.example.com/boot.sh", null, null)]
    [InlineData("https://assets.example.com/", null, null)]
    [InlineData("https://assets.example.com/a b.sh", null, null)]
    [InlineData("s3://cluster-assets/", "us-east-1", null)]
    [InlineData("s3://cluster-assets/boot.sh", null, null)]
    [InlineData("s3://cluster-assets/boot.sh", "Virginia", null)]
    [InlineData("s3://cluster-assets/boot.sh", "us-east-1", "http://s3.example.com")]
    [InlineData("s3://cluster-assets/boot\n.sh", "us-east-1", null)]
    [InlineData("", null, null)]
    public void A_location_the_nodes_cannot_download_from_is_refused_with_its_id(string uri, string? region, string? endpoint)
    {
        var e = Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(BootstrapSamples.Script(1, false), BootstrapFormat.CloudConfig, true, scriptUri: uri, scriptRegion: region, scriptEndpointUrl: endpoint));
        Assert.Equal(BootstrapErrorIds.ScriptUriInvalid, e.ErrorId);
        output.WriteLine(e.Message);
    }

    [Fact]
    public void Four_and_sixteen_mounts_with_an_install_step_fit_as_a_loader_in_every_user_data_format()
    {
        var rows = new List<string> { "| mounts | install | Shell | Shell -Compress | CloudConfig | CloudConfig -Compress | Mime | Mime -Compress | script |", "|---|---|---|---|---|---|---|---|---|" };
        foreach (var n in new[] { 1, 4, 16 })
        {
            foreach (var install in new[] { false, true })
            {
                var script = BootstrapSamples.Script(n, install);
                var sizes = new List<string>();
                foreach (var format in new[] { BootstrapFormat.Shell, BootstrapFormat.CloudConfig, BootstrapFormat.Mime })
                {
                    foreach (var compress in new[] { false, true })
                    {
                        var a = BootstrapArtifact.Build(script, format, compress, scriptUri: "s3://cluster-assets/s3mount/bootstrap.sh", scriptRegion: "us-east-1");
                        Assert.True(a.IsUserData);
                        Assert.NotNull(a.Loader);
                        Assert.True(a.Bytes.Length <= BootstrapArtifact.UserDataLimit, $"{n} {install} {format} {compress}: {a.Bytes.Length}");
                        Assert.Equal(script.Text, Encoding.UTF8.GetString(a.ScriptBytes));
                        sizes.Add(a.Bytes.Length.ToString("N0"));
                    }
                }

                rows.Add($"| {n} | {(install ? "yes" : "no")} | {string.Join(" | ", sizes)} | {script.Text.Length:N0} |");
            }
        }

        // Self-contained, four mounts with an install step do not fit (see BootstrapTests): the loader is what does.
        Assert.Equal(BootstrapErrorIds.TooLarge, Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(BootstrapSamples.Script(4, true), BootstrapFormat.CloudConfig, compress: true)).ErrorId);
        output.WriteLine(string.Join("\n", rows));
    }

    [Fact]
    public void The_documents_carry_the_loader_where_the_script_would_be()
    {
        var script = BootstrapSamples.Script(2, true);
        var cc = BootstrapArtifact.Build(script, BootstrapFormat.CloudConfig, scriptUri: "https://assets.example.com/boot.sh");
        Assert.Contains("- path: " + BootstrapLoader.NodePath + "\n", cc.Text, StringComparison.Ordinal);
        Assert.Contains("- [/bin/sh, " + BootstrapLoader.NodePath + "]\n", cc.Text, StringComparison.Ordinal);
        Assert.Contains("#    1. install mount-s3 1.23.0", cc.Text, StringComparison.Ordinal);
        var mime = BootstrapArtifact.Build(script, BootstrapFormat.Mime, compress: true, scriptUri: "https://assets.example.com/boot.sh");
        var text = Encoding.UTF8.GetString(BootstrapArtifact.Gunzip(mime.Bytes));
        Assert.Contains("filename=\"s3mount-bootstrap-loader.sh\"", text, StringComparison.Ordinal);
        Assert.Contains("Content-Description: S3Mount bootstrap loader (Export-S3MountBootstrap), 3 step(s)\n", text, StringComparison.Ordinal);
        Assert.Contains(mime.Loader!.Text, text, StringComparison.Ordinal);
        var shell = BootstrapArtifact.Build(script, BootstrapFormat.Shell, scriptUri: "https://assets.example.com/boot.sh");
        Assert.Equal(shell.Loader!.Text, shell.Text);
        Assert.Contains("S3L_SHA256='" + Sha256(shell.ScriptBytes) + "'\n", shell.Text, StringComparison.Ordinal);
        Assert.Contains("S3L_SAVE='" + BootstrapScript.NodePath + "'\n", shell.Text, StringComparison.Ordinal);

        // ParallelCluster downloads the script itself: no loader there.
        Assert.Null(BootstrapArtifact.Build(script, BootstrapFormat.ParallelCluster, scriptUri: "s3://cluster-assets/boot.sh").Loader);
    }

    [Fact]
    public void The_loader_is_shellcheck_clean_and_parses_in_dash_and_bash()
    {
        foreach (var (uri, region) in new[] { ("s3://cluster-assets/it's $(id).sh", "us-east-1"), ("https://assets.example.com/boot.sh", null) })
        {
            var text = BootstrapLoader.For(BootstrapSamples.Script(1, true), uri, region).Text;
            var (code, said) = Sh.Exec(Sh.Require("shellcheck"), text, "-s", "sh", "-");
            Assert.True(code == 0, said);
            foreach (var shell in new[] { "dash", "bash" })
            {
                (code, said) = Sh.Exec(Sh.Require(shell), text, "-n");
                Assert.True(code == 0, shell + ": " + said);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Sh.Shells), MemberType = typeof(Sh))]
    public void The_loader_runs_the_script_it_downloads_only_when_its_SHA256_is_the_pinned_one(string shell)
    {
        using var dir = new ImageRoot();
        using var server = new LoopbackHttp();
        var bytes = Encoding.UTF8.GetBytes(Harmless);
        server.Serve("/s3mount/boot.sh", bytes);
        var loader = Loader(Harmless, server.Url + "s3mount/boot.sh", null, dir.Path);
        var mark = Path.Combine(dir.Path, "ran");

        var r = RunLoader(shell, loader, dir.Path, ("MARK", mark));
        Assert.True(r.Code == 3, r.Said);
        Assert.Equal("result from the script\n", r.StdOut);
        Assert.Contains("diagnostic from the script", r.StdErr, StringComparison.Ordinal);
        Assert.Contains("s3mount-bootstrap: running " + Path.Combine(dir.Path, "saved/bootstrap.sh") + " (SHA-256 " + Sha256(bytes) + ", verified)", r.StdErr, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(dir.Path, "saved/bootstrap.sh")));
        Assert.Equal((UnixFileMode)0x1C0, File.GetUnixFileMode(Path.Combine(dir.Path, "saved/bootstrap.sh")));
        Assert.True(File.Exists(mark));
        Assert.Empty(Directory.GetDirectories(Path.Combine(dir.Path, "tmp")));

        // A changed script is never run, and the kept one stays as it was.
        File.Delete(mark);
        server.Serve("/s3mount/boot.sh", Encoding.UTF8.GetBytes(Harmless + "# one more line\n"));
        r = RunLoader(shell, loader, dir.Path, ("MARK", mark));
        Assert.True(r.Code == 1, r.Said);
        Assert.Equal(string.Empty, r.StdOut);
        Assert.Contains("s3mount-bootstrap: FAILED: " + server.Url + "s3mount/boot.sh is not the script this user data was exported with", r.StdErr, StringComparison.Ordinal);
        Assert.Contains("expected " + Sha256(bytes) + ", " + bytes.Length + " bytes); nothing was run", r.StdErr, StringComparison.Ordinal);
        Assert.False(File.Exists(mark));
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(dir.Path, "saved/bootstrap.sh")));

        // Not there: the HTTP status, nothing run.
        server.Serve("/s3mount/boot.sh", null, 404, "<Error><Code>NoSuchKey</Code></Error>");
        r = RunLoader(shell, loader, dir.Path, ("MARK", mark));
        Assert.True(r.Code == 1, r.Said);
        Assert.Contains("could not download " + server.Url + "s3mount/boot.sh (HTTP 404, NoSuchKey); nothing was run.", r.StdErr, StringComparison.Ordinal);
        Assert.False(File.Exists(mark));
        Assert.Empty(Directory.GetDirectories(Path.Combine(dir.Path, "tmp")));
    }

    [Fact]
    public void An_s3_download_is_signed_as_botocore_signs_it()
    {
        using var dir = new ImageRoot();
        using var server = new LoopbackHttp();
        server.Serve("/cluster-assets/dir/my%20boot%2B1.sh", Encoding.UTF8.GetBytes(Harmless));
        var loader = Loader(Harmless, "s3://cluster-assets/dir/my boot+1.sh", "eu-west-1", dir.Path, server.Url.TrimEnd('/'));
        foreach (var token in new[] { "FwoGZXIvYXdzE/tok+en==", string.Empty })
        {
            var r = RunLoader("dash", loader, dir.Path, ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                ("AWS_SESSION_TOKEN", token), ("S3L_NOW", "20261202T101500Z"));
            Assert.True(r.Code == 3, r.Said);
            var got = server.Requests.Last();
            Assert.Equal("GET /cluster-assets/dir/my%20boot%2B1.sh", Line(got));
            Assert.Equal(token.Length == 0 ? null : token, got.Header("x-amz-security-token"));
            var expected = Botocore(server.Url.TrimEnd('/') + "/cluster-assets/dir/my%20boot%2B1.sh", "eu-west-1", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token, "2026-12-02T10:15:00");
            Assert.Equal(expected, got.Header("Authorization"));
            output.WriteLine(expected);
        }
    }

    [Theory]
    [InlineData("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")]
    [InlineData("4a656665", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")]
    [InlineData("aa*131", "Test Using Larger Than Block-Size Key - Hash Key First", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")]
    public void The_loader_HMAC_gives_the_RFC_4231_values(string key, string data, string hmac)
    {
        // s3l_hex, s3l_bytes and s3l_hmac as the loader carries them, called on their own.
        var source = Scripts.ShellCompaction.Compact(Scripts.NodeScript.Source("loader"));
        var from = source.IndexOf("s3l_hex() {", StringComparison.Ordinal);
        var to = source.IndexOf("\n}\n", source.IndexOf("s3l_hmac() {", StringComparison.Ordinal), StringComparison.Ordinal) + 3;
        key = key == "aa*131" ? string.Concat(Enumerable.Repeat("aa", 131)) : key;
        foreach (var shell in new[] { "dash", "bash" })
        {
            var (code, said) = Sh.Exec(Sh.Require(shell), source.Substring(from, to - from) + "s3l_hmac " + Scripts.NodeScript.ShellQuote(key) + " " + Scripts.NodeScript.ShellQuote(data) + "\n");
            Assert.True(code == 0, said);
            Assert.Equal(hmac + "\n", said);
        }
    }

    [Fact]
    public void No_key_token_or_signature_of_a_signed_download_shows_on_a_command_line()
    {
        // Every program the loader runs is a shim that logs its command line (what /proc/*/cmdline shows every user of
        // the node) and then runs the real one; the shell's own printf and echo run no program.
        using var dir = new ImageRoot();
        using var server = new LoopbackHttp();
        server.Serve("/cluster-assets/boot.sh", Encoding.UTF8.GetBytes(Harmless));
        var log = Path.Combine(dir.Path, "argv.log");
        var shims = Programs(Path.Combine(dir.Path, "shims"), log);
        var loader = Loader(Harmless, "s3://cluster-assets/boot.sh", "us-east-1", dir.Path, server.Url.TrimEnd('/'));
        var r = RunLoader("dash", loader, dir.Path, ("PATH", shims), ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), ("AWS_SESSION_TOKEN", "FwoGZXIvYXdzE-session-token"));
        Assert.True(r.Code == 3, r.Said);
        var argv = File.ReadAllText(log);
        Assert.Contains("curl ", argv, StringComparison.Ordinal);
        Assert.Contains("sha256sum", argv, StringComparison.Ordinal);
        var signature = server.Requests.Last().Header("Authorization")!.Split("Signature=")[1];
        foreach (var secret in new[] { "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FwoGZXIvYXdzE-session-token", signature, Convert.ToHexString(Encoding.ASCII.GetBytes("AWS4wJalrXUtnFEMI")).ToLowerInvariant() })
        {
            Assert.DoesNotContain(secret, argv, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void With_wget_and_no_curl_the_loader_signs_takes_the_role_and_refuses_the_same_way()
    {
        Sh.Require("wget");
        using var dir = new ImageRoot();
        using var server = new LoopbackHttp();
        var bytes = Encoding.UTF8.GetBytes(Harmless);
        server.Serve("/cluster-assets/boot.sh", bytes);
        server.Serve("PUT /latest/api/token", Encoding.UTF8.GetBytes("IMDS-TOKEN-2"), require: ("X-aws-ec2-metadata-token-ttl-seconds", "300"));
        server.Serve("/latest/meta-data/iam/security-credentials/", Encoding.UTF8.GetBytes("node-role\n"), require: ("X-aws-ec2-metadata-token", "IMDS-TOKEN-2"));
        server.Serve("/latest/meta-data/iam/security-credentials/node-role", Encoding.UTF8.GetBytes(
            "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAWGETKEY\",\"SecretAccessKey\":\"wget/secret\",\"Token\":\"wget-token\"}"), require: ("X-aws-ec2-metadata-token", "IMDS-TOKEN-2"));
        var path = ("PATH", Programs(Path.Combine(dir.Path, "bin"), null, "curl"));
        var loader = Loader(Harmless, "s3://cluster-assets/boot.sh", "us-east-1", dir.Path, server.Url.TrimEnd('/'));
        var r = RunLoader("dash", loader, dir.Path, path, ("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.Url), ("S3L_NOW", "20261202T101500Z"));
        Assert.True(r.Code == 3, r.Said);
        var got = server.Requests.Last();
        Assert.StartsWith("Wget/", got.Header("User-Agent"), StringComparison.Ordinal);
        Assert.Equal("wget-token", got.Header("x-amz-security-token"));
        Assert.Equal(Botocore(server.Url.TrimEnd('/') + "/cluster-assets/boot.sh", "us-east-1", "ASIAWGETKEY", "wget/secret", "wget-token", "2026-12-02T10:15:00"), got.Header("Authorization"));

        // A changed script, and a missing one with S3's error, as through curl.
        server.Serve("/cluster-assets/boot.sh", Encoding.UTF8.GetBytes(Harmless + "# changed\n"));
        r = RunLoader("dash", loader, dir.Path, path, ("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.Url));
        Assert.True(r.Code == 1, r.Said);
        Assert.Contains("is not the script this user data was exported with", r.StdErr, StringComparison.Ordinal);
        server.Serve("/cluster-assets/boot.sh", null, 403, "<Error><Code>AccessDenied</Code></Error>");
        r = RunLoader("dash", loader, dir.Path, path, ("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.Url));
        Assert.True(r.Code == 1, r.Said);
        Assert.Contains("(HTTP 403, AccessDenied); nothing was run.", r.StdErr, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(dir.Path, "saved/bootstrap.sh")));
    }

    [Fact]
    public void Without_credentials_in_the_environment_the_loader_takes_the_instance_role_through_IMDSv2()
    {
        using var dir = new ImageRoot();
        using var server = new LoopbackHttp();
        server.Serve("/cluster-assets/boot.sh", Encoding.UTF8.GetBytes(Harmless));
        server.Serve("PUT /latest/api/token", Encoding.UTF8.GetBytes("IMDS-TOKEN-1"), require: ("X-aws-ec2-metadata-token-ttl-seconds", "300"));
        server.Serve("/latest/meta-data/iam/security-credentials/", Encoding.UTF8.GetBytes("node-role"), require: ("X-aws-ec2-metadata-token", "IMDS-TOKEN-1"));
        server.Serve("/latest/meta-data/iam/security-credentials/node-role", Encoding.UTF8.GetBytes(
            "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-12-02T10:00:00Z\",\n  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAROLEKEY\",\n  \"SecretAccessKey\" : \"role/secret+key\",\n  \"Token\" : \"role-session-token==\",\n  \"Expiration\" : \"2026-12-02T16:00:00Z\"\n}"),
            require: ("X-aws-ec2-metadata-token", "IMDS-TOKEN-1"));
        var loader = Loader(Harmless, "s3://cluster-assets/boot.sh", "us-east-1", dir.Path, server.Url.TrimEnd('/'));
        var r = RunLoader("dash", loader, dir.Path, ("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.Url), ("S3L_NOW", "20261202T101500Z"));
        Assert.True(r.Code == 3, r.Said);
        var got = server.Requests.Last();
        Assert.Equal("GET /cluster-assets/boot.sh", Line(got));
        Assert.Equal("role-session-token==", got.Header("x-amz-security-token"));
        Assert.Equal(Botocore(server.Url.TrimEnd('/') + "/cluster-assets/boot.sh", "us-east-1", "ASIAROLEKEY", "role/secret+key", "role-session-token==", "2026-12-02T10:15:00"), got.Header("Authorization"));

        // An instance without a role (asked three times: right after launch the role can take a moment to appear): the
        // reason, and nothing run.
        server.Serve("/latest/meta-data/iam/security-credentials/", null, 404, "not found");
        var asked = server.Requests.Count(q => Line(q) == "GET /latest/meta-data/iam/security-credentials/");
        r = RunLoader("dash", loader, dir.Path, ("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.Url));
        Assert.True(r.Code == 1, r.Said);
        Assert.Equal(3, server.Requests.Count(q => Line(q) == "GET /latest/meta-data/iam/security-credentials/") - asked);
        Assert.Contains("the instance has no role (instance metadata: HTTP 404)", r.StdErr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, r.StdOut);
    }

    // --- helpers ----------------------------------------------------------------------------------------------------

    // A directory of the programs the loader may run (but those WITHOUT), for PATH: each a shim that runs the real one,
    // and first appends its command line to LOG when one is given.
    private static string Programs(string dir, string? log, params string[] without)
    {
        Directory.CreateDirectory(dir);
        foreach (var name in new[] { "curl", "wget", "awk", "sha256sum", "od", "tr", "sed", "head", "mktemp", "rm", "cat", "mkdir", "cp", "chmod", "mv", "date", "stat", "wc", "logger", "systemd-cat", "sleep", "openssl" }.Except(without))
        {
            var real = Sh.Find(name);
            if (real is null)
            {
                continue;
            }

            var file = Path.Combine(dir, name);
            File.WriteAllText(file, "#!/bin/sh\n" + (log is null ? string.Empty : "printf '%s\\n' \"$0 $*\" >>" + Scripts.NodeScript.ShellQuote(log) + "\n") + "exec " + real + " \"$@\"\n");
            File.SetUnixFileMode(file, (UnixFileMode)0x1ED);
        }

        return dir;
    }

    // The loader of a harmless script, keeping it under DIR/saved instead of /var/lib/s3mount.
    private static string Loader(string script, string uri, string? region, string dir, string? endpoint = null) =>
        BootstrapLoader.For(script, new[] { "1. a harmless script" }, uri, region, endpoint).Text
            .Replace("S3L_SAVE='" + BootstrapScript.NodePath + "'\n", "S3L_SAVE=" + Scripts.NodeScript.ShellQuote(Path.Combine(dir, "saved/bootstrap.sh")) + "\n", StringComparison.Ordinal);

    private sealed record LoaderRun(int Code, string StdOut, string StdErr)
    {
        public string Said => $"exit {Code}\nstdout:\n{StdOut}\nstderr:\n{StdErr}";
    }

    private static LoaderRun RunLoader(string shell, string loader, string dir, params (string Name, string Value)[] env)
    {
        var file = Path.Combine(dir, "loader.sh");
        File.WriteAllText(file, loader);
        Directory.CreateDirectory(Path.Combine(dir, "tmp"));
        var psi = new ProcessStartInfo(Sh.Require(shell)) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.ArgumentList.Add(file);
        foreach (var name in psi.Environment.Keys.Where(k => k.StartsWith("AWS_", StringComparison.Ordinal) || k == "JOURNAL_STREAM").ToList())
        {
            psi.Environment.Remove(name);
        }

        // No metadata service to wait for unless the test gives one (a closed loopback port answers at once).
        psi.Environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:9";
        psi.Environment["TMPDIR"] = Path.Combine(dir, "tmp");
        foreach (var (name, value) in env)
        {
            psi.Environment[name] = value;
        }

        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)), "the loader did not end");
        return new LoaderRun(p.ExitCode, so.Result, se.Result);
    }

    // The Authorization header botocore (the AWS CLI's signer) gives the same GET at the same time.
    private static string Botocore(string url, string region, string key, string secret, string token, string at)
    {
        var python = Sh.Require("python3");
        const string program = """
            import sys, datetime
            from unittest import mock
            from botocore.auth import S3SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            url, region, key, secret, token, at = sys.argv[1:7]
            req = AWSRequest(method='GET', url=url)
            with mock.patch('botocore.auth.datetime') as d:
                d.datetime.utcnow.return_value = datetime.datetime.strptime(at, '%Y-%m-%dT%H:%M:%S')
                d.datetime.strptime = datetime.datetime.strptime
                S3SigV4Auth(Credentials(key, secret, token or None), 's3', region).add_auth(req)
            print(req.headers['Authorization'])
            """;
        var (code, said) = Sh.Exec(python, string.Empty, "-c", program, url, region, key, secret, token, at);
        if (code != 0 && said.Contains("No module named 'botocore'", StringComparison.Ordinal))
        {
            if (Environment.GetEnvironmentVariable("CI") is not null)
            {
                Assert.Fail("python3-botocore is missing; .ci/setup installs it.");
            }

            Assert.Skip("python3-botocore is not installed here (apt-get install python3-botocore).");
        }

        Assert.True(code == 0, said);
        return said.Trim();
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    /// <summary>The fakes' loopback server answering each path (or "METHOD path") with what it was given, keeping every request.</summary>
    private sealed class LoopbackHttp : IDisposable
    {
        private readonly ConcurrentDictionary<string, (byte[]? Body, int Status, string? Text, (string Name, string Value)? Require)> _routes = new();
        private readonly FakeSsm.LoopbackHttpServer _server;

        public LoopbackHttp() => _server = new FakeSsm.LoopbackHttpServer(r => Task.FromResult(Answer(r)));

        public string Url => _server.Endpoint.ToString();

        public ConcurrentQueue<FakeSsm.FakeHttpRequest> Requests { get; } = new();

        public void Serve(string route, byte[]? body, int status = 200, string? text = null, (string Name, string Value)? require = null) =>
            _routes[route.Contains(' ', StringComparison.Ordinal) ? route : "GET " + route] = (body, status, text, require);

        private FakeSsm.FakeHttpResponse Answer(FakeSsm.FakeHttpRequest request)
        {
            Requests.Enqueue(request);
            var (body, status, text, require) = _routes.TryGetValue(Line(request), out var r) ? r : (null, 404, "no route", null);
            if (require is { } h && request.Header(h.Name) != h.Value)
            {
                (body, status, text) = (null, 401, "missing " + h.Name);
            }

            return new FakeSsm.FakeHttpResponse(status, "application/octet-stream", body ?? Encoding.UTF8.GetBytes(text ?? string.Empty));
        }

        public void Dispose() => _server.Dispose();
    }

    private static string Line(FakeSsm.FakeHttpRequest r) => r.Method + " " + r.Path + (r.Query.Length == 0 ? string.Empty : "?" + r.Query);
}
