using System;
using System.Threading;
using System.Threading.Tasks;

namespace S3Mount.Lab;

/// <summary>One node of a <see cref="NodeLab"/>: a booted Debian 12 system with systemd as PID 1.</summary>
public sealed class LabNode
{
    internal LabNode(NodeLab lab, string name, string rootPath, bool standInPreinstalled)
    {
        this.Lab = lab;
        this.Name = name;
        this.RootPath = rootPath;
        this.StandInPreinstalled = standInPreinstalled;
    }

    /// <summary>The lab this node belongs to.</summary>
    public NodeLab Lab { get; }

    /// <summary>Node name (also its hostname).</summary>
    public string Name { get; }

    /// <summary>
    /// Host path of the node's merged root. Files there are the node's files, except below
    /// mounts made inside the node (/tmp, /run, /dev, FUSE mounts): use the node methods for those.
    /// </summary>
    public string RootPath { get; }

    /// <summary>Whether the mount-s3 stand-in package was preinstalled.</summary>
    public bool StandInPreinstalled { get; }

    /// <summary>Runs a bash script as root inside the node (all its namespaces).</summary>
    /// <param name="script">Bash script text.</param>
    /// <param name="stdin">Standard input, or null for none.</param>
    /// <param name="timeout">Time limit; default 2 minutes. On expiry the result has exit 124 and TimedOut.</param>
    /// <param name="cancellationToken">Cancels the run (the command is killed).</param>
    /// <returns>Exit status, stdout and stderr.</returns>
    public Task<ExecResult> ExecAsync(string script, string? stdin = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        this.Lab.RunLabAsync(["exec", this.Name, "bash", "-c", script], stdin, timeout ?? TimeSpan.FromMinutes(2), null, cancellationToken);

    /// <summary>Runs a command (no shell) inside the node.</summary>
    /// <param name="argv">Program and arguments.</param>
    /// <param name="stdin">Standard input, or null.</param>
    /// <param name="timeout">Time limit; default 2 minutes.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>Exit status, stdout and stderr.</returns>
    public Task<ExecResult> RunAsync(string[] argv, string? stdin = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(argv);
        return this.Lab.RunLabAsync(["exec", this.Name, .. argv], stdin, timeout ?? TimeSpan.FromMinutes(2), null, cancellationToken);
    }

    /// <summary>Runs a bash script and throws <see cref="LabException"/> unless it exits 0.</summary>
    /// <param name="script">Bash script text.</param>
    /// <param name="stdin">Standard input, or null.</param>
    /// <param name="timeout">Time limit; default 2 minutes.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The result.</returns>
    public async Task<ExecResult> ExecCheckedAsync(string script, string? stdin = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        (await this.ExecAsync(script, stdin, timeout, cancellationToken).ConfigureAwait(false)).EnsureSuccess($"[{this.Name}] {script}");

    /// <summary>Writes a file inside the node (parent directories are created).</summary>
    /// <param name="path">Absolute path in the node.</param>
    /// <param name="content">File content (UTF-8).</param>
    /// <param name="mode">Octal mode such as "0644", or null to keep the default.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task.</returns>
    public async Task WriteFileAsync(string path, string content, string? mode = null, CancellationToken cancellationToken = default)
    {
        var r = await this.RunAsync(
            ["sh", "-c", "mkdir -p \"$(dirname \"$1\")\" && cat >\"$1\" && { [ -z \"$2\" ] || chmod \"$2\" \"$1\"; }", "sh", path, mode ?? string.Empty],
            content,
            null,
            cancellationToken).ConfigureAwait(false);
        r.EnsureSuccess($"[{this.Name}] write {path}");
    }

    /// <summary>Reads a file inside the node.</summary>
    /// <param name="path">Absolute path in the node.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The content.</returns>
    public async Task<string> ReadFileAsync(string path, CancellationToken cancellationToken = default)
    {
        var r = await this.RunAsync(["cat", "--", path], null, null, cancellationToken).ConfigureAwait(false);
        return r.EnsureSuccess($"[{this.Name}] read {path}").StdOut;
    }

    /// <summary>Halts the node cleanly and boots it again on the same disk (enabled units come back).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    public async Task RebootAsync(CancellationToken cancellationToken = default) =>
        (await this.Lab.RunLabAsync(["reboot", this.Name], null, TimeSpan.FromMinutes(2), null, cancellationToken).ConfigureAwait(false))
            .EnsureSuccess($"reboot {this.Name}");

    /// <summary>Makes the stand-in behave as this mount-s3 version (options newer than it are rejected); null restores the package version.</summary>
    /// <param name="version">Version such as "1.21.0" or "1.21.0+1.amzn2023", or null.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task.</returns>
    public async Task SetMountS3VersionAsync(string? version, CancellationToken cancellationToken = default)
    {
        if (version is null)
        {
            await this.ExecCheckedAsync("rm -f /etc/mount-s3-standin/version", null, null, cancellationToken).ConfigureAwait(false);
            return;
        }

        await this.WriteFileAsync("/etc/mount-s3-standin/version", version + "\n", "0644", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override string ToString() => this.Name;
}
