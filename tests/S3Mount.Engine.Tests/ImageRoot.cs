using System.Security.Cryptography;
using S3Mount.Engine.Node;

namespace S3Mount.Engine.Tests;

/// <summary>A throwaway offline image root with users, groups and fuse.conf, and a byte-level snapshot of it.</summary>
public sealed class ImageRoot : IDisposable
{
    public ImageRoot(string fuseConf = "# /etc/fuse.conf\n#mount_max = 1000\n#user_allow_other\n")
    {
        Path = Directory.CreateTempSubdirectory("s3mount-root-").FullName;
        Directory.CreateDirectory(Combine("etc"));
        File.WriteAllText(Combine("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nec2-user:x:1000:1000::/home/ec2-user:/bin/bash\n");
        File.WriteAllText(Combine("etc/group"), "root:x:0:\nnogroup:x:65534:\nec2-user:x:1000:\nhpc:x:2000:ec2-user\n");
        File.WriteAllText(Combine("etc/fuse.conf"), fuseConf);
    }

    public string Path { get; }

    public string Combine(string relative) => System.IO.Path.Combine(Path, relative.TrimStart('/'));

    /// <summary>Every file, directory and link under the root with its content hash, mode and link target.</summary>
    public SortedDictionary<string, string> Snapshot()
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in new DirectoryInfo(Path).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            var rel = System.IO.Path.GetRelativePath(Path, e.FullName);
            map[rel] = e.LinkTarget is { } t ? "link " + t
                : e is FileInfo f ? $"file {File.GetUnixFileMode(f.FullName)} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f.FullName)))}"
                : $"dir {File.GetUnixFileMode(e.FullName)}";
        }

        return map;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Runs node scripts with a given shell and parses their result.</summary>
public static class Sh
{
    public static string? Find(string name) => new[] { "/usr/bin/" + name, "/bin/" + name }.FirstOrDefault(File.Exists);

    public static IEnumerable<object[]> Shells() => new[] { "dash", "bash" }.Select(s => new object[] { s });

    /// <summary>The shell's path, or skip (fail under CI) when it is missing.</summary>
    public static string Require(string name)
    {
        var path = Find(name);
        if (path is null)
        {
            if (Environment.GetEnvironmentVariable("CI") is not null)
            {
                Assert.Fail($"{name} is missing; .ci/setup installs it.");
            }

            Assert.Skip($"{name} is not installed here (apt-get install {name}).");
        }

        return path!;
    }

    /// <summary>Runs FILE with ARGS and STDIN on its standard input: its exit code, and its stdout followed by its stderr.</summary>
    public static (int Code, string Output) Exec(string file, string stdin, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        p.WaitForExit();
        return (p.ExitCode, so.Result + se.Result);
    }

    public static ScriptOutput Run(string shell, Scripts.NodeScript script) =>
        new LocalScriptRunner(Require(shell)).RunAsync(script).GetAwaiter().GetResult();
}
