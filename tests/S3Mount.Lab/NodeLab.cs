using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using System.Xml.Linq;

namespace S3Mount.Lab;

/// <summary>
/// A set of real Linux nodes (systemd as PID 1 in systemd-nspawn containers over a shared
/// overlay base) plus a loopback S3 server and a loopback package server, driven by
/// tests/lab/lab.sh. Always dispose it: disposal halts the nodes, unmounts and removes everything.
/// </summary>
public sealed class NodeLab : IAsyncDisposable
{
    /// <summary>Access key the lab's S3 server accepts (also written into every node).</summary>
    public const string S3AccessKey = "S3RVER";

    /// <summary>Secret key the lab's S3 server accepts.</summary>
    public const string S3SecretKey = "S3RVER";

    private static readonly ConcurrentDictionary<string, NodeLab> LiveLabs = new();
    private static readonly Lazy<string?> Unavailable = new(ComputeUnavailableReason);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private static readonly XNamespace S3Ns = "http://doc.s3.amazonaws.com/2006-03-01/";
    private static int counter;
    private static int exitHooked;

    private readonly List<LabNode> nodes = [];
    private readonly Dictionary<string, string> environment;
    private readonly LabOptions options;
    private int disposed;

    private NodeLab(string script, LabOptions options)
    {
        this.Script = script;
        this.options = options;
        this.LabId = string.Create(
            CultureInfo.InvariantCulture,
            $"t{Environment.ProcessId}-{Interlocked.Increment(ref counter)}");
        this.environment = new Dictionary<string, string>
        {
            ["S3MOUNT_LAB_ID"] = this.LabId,
            ["S3MOUNT_LAB_OWNER"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>Why the lab cannot run on this machine, or null when it can.</summary>
    public static string? UnavailableReason => Unavailable.Value;

    /// <summary>True when the lab can run here (Linux, root, systemd-nspawn, debootstrap, nsenter, lab.sh).</summary>
    public static bool IsAvailable => UnavailableReason is null;

    /// <summary>The lab's id (its state lives in /run/s3mount-lab/&lt;id&gt;).</summary>
    public string LabId { get; }

    /// <summary>Path of the lab.sh driving this lab.</summary>
    public string Script { get; }

    /// <summary>The running nodes.</summary>
    public IReadOnlyList<LabNode> Nodes => this.nodes;

    /// <summary>Endpoint of the loopback S3 server (path-style), or null when not started.</summary>
    public Uri? S3Endpoint { get; private set; }

    /// <summary>Buckets created when the S3 server started.</summary>
    public IReadOnlyList<string> Buckets { get; } = ["lab-bucket", "lab-bucket-2"];

    /// <summary>
    /// Base URL of the package server, laid out like the release bucket:
    /// latest/x86_64/mount-s3.deb, &lt;ver&gt;/x86_64/mount-s3-&lt;ver&gt;-x86_64.deb (+ .asc), public_keys/KEYS.
    /// </summary>
    public Uri? PackageBaseUrl { get; private set; }

    /// <summary>Fingerprint (40 hex digits, no spaces) of the test signing key.</summary>
    public string? KeyFingerprint { get; private set; }

    /// <summary>Versions of the good stand-in packages on the package server; the last is "latest".</summary>
    public IReadOnlyList<string> PackageVersions { get; } = ["1.22.0", "1.23.0"];

    /// <summary>Version of the deliberately bad package (it depends on fuse 2, so installing it removes fuse3).</summary>
    public string BadPackageVersion { get; } = "1.99.0";

    /// <summary>Time to get the base tree, packages and servers ready.</summary>
    public TimeSpan SetupTime { get; private set; }

    /// <summary>Time to create and boot the initial nodes (in parallel) until systemd reports running.</summary>
    public TimeSpan BootTime { get; private set; }

    /// <summary>The node with this name.</summary>
    /// <param name="name">Node name.</param>
    public LabNode this[string name] =>
        this.nodes.FirstOrDefault(n => n.Name == name) ?? throw new KeyNotFoundException($"no node {name}");

    /// <summary>Starts a lab with <paramref name="nodes"/> nodes booted in parallel.</summary>
    /// <param name="nodes">Number of nodes (0 or less: <see cref="LabOptions.Nodes"/>).</param>
    /// <param name="options">Options; null for defaults.</param>
    /// <param name="cancellationToken">Cancels the setup (the lab is then torn down).</param>
    /// <returns>The running lab.</returns>
    public static async Task<NodeLab> StartAsync(int nodes, LabOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LabOptions();
        var reason = UnavailableReason;
        if (reason is not null && options.LabScript is null)
        {
            throw new LabException("the node lab cannot run here: " + reason);
        }

        var script = options.LabScript ?? FindScript() ?? throw new LabException("tests/lab/lab.sh not found");
        var lab = new NodeLab(script, options);
        HookExit();
        LiveLabs[lab.LabId] = lab;
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(options.StartTimeout);
            await lab.SetupAsync(cts.Token).ConfigureAwait(false);
            var count = nodes > 0 ? nodes : options.Nodes;
            var sw = Stopwatch.StartNew();
            await lab.AddNodesAsync(
                Enumerable.Range(1, count).Select(i => options.NodeNamePrefix + i.ToString(CultureInfo.InvariantCulture)),
                options.StandInPreinstalled,
                cts.Token).ConfigureAwait(false);
            lab.BootTime = sw.Elapsed;
            return lab;
        }
        catch
        {
            await lab.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Creates and boots more nodes (in parallel).</summary>
    /// <param name="names">Node names: lowercase letters, digits and dashes, starting with a letter.</param>
    /// <param name="standInPreinstalled">Whether the stand-in package is installed in them.</param>
    /// <param name="cancellationToken">Cancels the boot.</param>
    /// <returns>The new nodes.</returns>
    public async Task<IReadOnlyList<LabNode>> AddNodesAsync(IEnumerable<string> names, bool standInPreinstalled, CancellationToken cancellationToken = default)
    {
        var list = names.ToList();
        var env = new Dictionary<string, string>(this.environment)
        {
            ["S3MOUNT_LAB_STANDIN"] = standInPreinstalled ? "1" : "0",
        };
        var result = await this.RunLabAsync(["up", .. list], null, TimeSpan.FromMinutes(5), env, cancellationToken).ConfigureAwait(false);
        result.EnsureSuccess("lab.sh up " + string.Join(' ', list));
        var added = new List<LabNode>();
        foreach (var line in result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length == 2 && list.Contains(parts[0]))
            {
                var node = new LabNode(this, parts[0], parts[1], standInPreinstalled);
                lock (this.nodes)
                {
                    this.nodes.Add(node);
                }

                added.Add(node);
            }
        }

        if (added.Count != list.Count)
        {
            throw new LabException("lab.sh up did not report every node: " + result);
        }

        return added;
    }

    /// <summary>Halts and removes a node.</summary>
    /// <param name="node">The node.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task.</returns>
    public async Task RemoveNodeAsync(LabNode node, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        (await this.RunLabAsync(["down", node.Name], null, TimeSpan.FromMinutes(1), null, cancellationToken).ConfigureAwait(false))
            .EnsureSuccess("lab.sh down " + node.Name);
        lock (this.nodes)
        {
            this.nodes.Remove(node);
        }
    }

    /// <summary>Creates a bucket on the lab's S3 server.</summary>
    /// <param name="bucket">Bucket name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task.</returns>
    public async Task CreateBucketAsync(string bucket, CancellationToken cancellationToken = default)
    {
        using var response = await Http.PutAsync(this.S3Uri(bucket, null, null), new ByteArrayContent([]), cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Stores an object on the lab's S3 server.</summary>
    /// <param name="bucket">Bucket name.</param>
    /// <param name="key">Object key.</param>
    /// <param name="content">Object bytes.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task.</returns>
    public async Task PutObjectAsync(string bucket, string key, byte[] content, CancellationToken cancellationToken = default)
    {
        using var response = await Http.PutAsync(this.S3Uri(bucket, key, null), new ByteArrayContent(content), cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Lists the object keys of a bucket (all pages).</summary>
    /// <param name="bucket">Bucket name.</param>
    /// <param name="prefix">Only keys starting with this.</param>
    /// <param name="cancellationToken">Cancels the requests.</param>
    /// <returns>The keys.</returns>
    public async Task<IReadOnlyList<string>> ListObjectsAsync(string bucket, string? prefix = null, CancellationToken cancellationToken = default)
    {
        var keys = new List<string>();
        string? token = null;
        do
        {
            var query = "list-type=2&prefix=" + Uri.EscapeDataString(prefix ?? string.Empty) +
                (token is null ? string.Empty : "&continuation-token=" + Uri.EscapeDataString(token));
            var xml = await Http.GetStringAsync(this.S3Uri(bucket, null, query), cancellationToken).ConfigureAwait(false);
            var doc = XDocument.Parse(xml);
            var root = doc.Root ?? throw new LabException("empty list response");
            var ns = root.Name.Namespace == XNamespace.None ? XNamespace.None : S3Ns;
            keys.AddRange(root.Elements(ns + "Contents").Select(c => (string?)c.Element(ns + "Key") ?? string.Empty));
            token = (string?)root.Element(ns + "IsTruncated") == "true" ? (string?)root.Element(ns + "NextContinuationToken") : null;
        }
        while (token is not null);
        return keys;
    }

    /// <summary>Reads an object, or null when it does not exist.</summary>
    /// <param name="bucket">Bucket name.</param>
    /// <param name="key">Object key.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The bytes, or null.</returns>
    public async Task<byte[]?> GetObjectAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        using var response = await Http.GetAsync(this.S3Uri(bucket, key, null), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Puts the lab's S3 server in <paramref name="state"/>: <see cref="S3State.Up"/> (answering, on the same endpoint
    /// and data as before), <see cref="S3State.Down"/> (the server is gone: connections are refused, as when an endpoint,
    /// DNS or a VPC endpoint is not there yet) or <see cref="S3State.Blackhole"/> (connections are accepted and never
    /// answered, as behind a dropping firewall). Nodes keep their endpoint in every state.
    /// </summary>
    /// <param name="state">The state.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>A task.</returns>
    public async Task SetS3StateAsync(S3State state, CancellationToken cancellationToken = default)
    {
        _ = this.S3Endpoint ?? throw new LabException("the S3 server was not started");
        string[][] steps = state switch
        {
            S3State.Up => [["s3", "up"]],
            S3State.Down => [["s3", "down"]],
            S3State.Blackhole => [["s3", "up"], ["s3", "pause"]],
            _ => throw new ArgumentOutOfRangeException(nameof(state)),
        };
        foreach (var step in steps)
        {
            (await this.RunLabAsync(step, null, TimeSpan.FromMinutes(1), null, cancellationToken).ConfigureAwait(false))
                .EnsureSuccess("lab.sh " + string.Join(' ', step));
        }
    }

    /// <summary>URL of a file on the package server.</summary>
    /// <param name="relativePath">Path below the base, e.g. "latest/x86_64/mount-s3.deb".</param>
    /// <returns>The URL.</returns>
    public Uri PackageUrl(string relativePath) =>
        new(this.PackageBaseUrl ?? throw new LabException("the package server was not started"), relativePath);

    /// <summary>Runs lab.sh with these arguments for this lab (the escape hatch for anything not wrapped).</summary>
    /// <param name="arguments">Arguments, e.g. ["status"].</param>
    /// <param name="stdin">Standard input, or null.</param>
    /// <param name="timeout">Time limit; default 2 minutes.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The result.</returns>
    public Task<ExecResult> RunLabAsync(IReadOnlyList<string> arguments, string? stdin = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        this.RunLabAsync(arguments, stdin, timeout ?? TimeSpan.FromMinutes(2), null, cancellationToken);

    /// <summary>Halts every node, stops the servers, unmounts and removes all lab state. Safe to call twice.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref this.disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await this.RunLabAsync(["destroy-all"], null, TimeSpan.FromMinutes(2), null, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            LiveLabs.TryRemove(this.LabId, out _);
        }
    }

    internal Task<ExecResult> RunLabAsync(IReadOnlyList<string> arguments, string? stdin, TimeSpan timeout, IReadOnlyDictionary<string, string>? env, CancellationToken cancellationToken) =>
        LabProcess.RunAsync(this.Script, arguments, env ?? this.environment, stdin, timeout, cancellationToken);

    private static void HookExit()
    {
        if (Interlocked.Exchange(ref exitHooked, 1) != 0)
        {
            return;
        }

        // Normal exit and SIGTERM. SIGKILL and crashes are covered by lab.sh's watchdog,
        // which destroys a lab as soon as its owner process (this one) is gone.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DestroyAllSync();
    }

    private static void DestroyAllSync()
    {
        foreach (var lab in LiveLabs.Values)
        {
            if (Interlocked.Exchange(ref lab.disposed, 1) == 0)
            {
                LabProcess.RunSync(lab.Script, ["destroy-all"], lab.environment, TimeSpan.FromSeconds(60));
            }

            LiveLabs.TryRemove(lab.LabId, out _);
        }
    }

    private static string? FindScript()
    {
        var fromEnv = Environment.GetEnvironmentVariable("S3MOUNT_LAB_SCRIPT");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return File.Exists(fromEnv) ? fromEnv : null;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "lab", "lab.sh");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string? ComputeUnavailableReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "the node lab needs Linux";
        }

        var uid = EffectiveUid();
        if (uid != 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"the node lab needs root (running as uid {uid})");
        }

        foreach (var (tool, package) in new[] { ("systemd-nspawn", "systemd-container"), ("debootstrap", "debootstrap"), ("nsenter", "util-linux") })
        {
            if (FindTool(tool) is null)
            {
                return $"{tool} not found (apt-get install {package})";
            }
        }

        if (!File.Exists("/dev/fuse"))
        {
            return "/dev/fuse is missing (FUSE is not available)";
        }

        if (FindScript() is null)
        {
            return "tests/lab/lab.sh not found above " + AppContext.BaseDirectory + " (set S3MOUNT_LAB_SCRIPT)";
        }

        return null;
    }

    private static long EffectiveUid()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(fields[2], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return -1;
    }

    private static string? FindTool(string name)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
        return path.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    private async Task SetupAsync(CancellationToken cancellationToken)
    {
        var sw = Stopwatch.StartNew();
        (await this.RunLabAsync(["base"], null, TimeSpan.FromMinutes(5), null, cancellationToken).ConfigureAwait(false))
            .EnsureSuccess("lab.sh base");
        if (this.options.StartS3)
        {
            var r = (await this.RunLabAsync(["s3", "start"], null, TimeSpan.FromMinutes(2), null, cancellationToken).ConfigureAwait(false))
                .EnsureSuccess("lab.sh s3 start");
            this.S3Endpoint = new Uri(LastLine(r.StdOut).TrimEnd('/') + "/");
        }

        if (this.options.StartPackageServer)
        {
            var r = (await this.RunLabAsync(["pkg", "serve"], null, TimeSpan.FromMinutes(2), null, cancellationToken).ConfigureAwait(false))
                .EnsureSuccess("lab.sh pkg serve");
            foreach (var line in r.StdOut.Split('\n', StringSplitOptions.TrimEntries))
            {
                if (line.StartsWith("base=", StringComparison.Ordinal))
                {
                    this.PackageBaseUrl = new Uri(line["base=".Length..].TrimEnd('/') + "/");
                }
                else if (line.StartsWith("fingerprint=", StringComparison.Ordinal))
                {
                    this.KeyFingerprint = line["fingerprint=".Length..];
                }
            }
        }

        this.SetupTime = sw.Elapsed;
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? string.Empty;

    private Uri S3Uri(string bucket, string? key, string? query)
    {
        var endpoint = this.S3Endpoint ?? throw new LabException("the S3 server was not started");
        var path = Uri.EscapeDataString(bucket);
        if (key is not null)
        {
            path += "/" + string.Join('/', key.Split('/').Select(Uri.EscapeDataString));
        }

        var builder = new UriBuilder(new Uri(endpoint, path));
        if (query is not null)
        {
            builder.Query = query;
        }

        return builder.Uri;
    }
}

/// <summary>What the lab's S3 server does (see <see cref="NodeLab.SetS3StateAsync"/>).</summary>
public enum S3State
{
    /// <summary>Answering.</summary>
    Up,

    /// <summary>Gone: connections are refused.</summary>
    Down,

    /// <summary>Connections are accepted and never answered.</summary>
    Blackhole,
}
