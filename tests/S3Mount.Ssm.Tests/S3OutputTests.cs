using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

/// <summary>A minimal path-style S3 (PUT/GET object) so the real AWSSDK.S3 code paths run without a network.</summary>
internal sealed class MiniS3 : IDisposable
{
    private readonly HttpListener _listener = new();

    public MiniS3()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        Endpoint = new Uri("http://127.0.0.1:" + port + "/");
        _listener.Prefixes.Add(Endpoint.ToString());
        _listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public Uri Endpoint { get; }

    public ConcurrentDictionary<string, byte[]> Objects { get; } = new();

    public ConcurrentQueue<string> Log { get; } = new();

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception)
            {
                return;
            }

            var path = Uri.UnescapeDataString(ctx.Request.Url!.AbsolutePath.TrimStart('/'));
            Log.Enqueue(ctx.Request.HttpMethod + " " + path + " auth=" + (ctx.Request.Headers["Authorization"] ?? "none"));
            if (ctx.Request.HttpMethod == "PUT")
            {
                using var ms = new MemoryStream();
                await ctx.Request.InputStream.CopyToAsync(ms);
                Objects[path] = ms.ToArray();
                ctx.Response.Headers["ETag"] = "\"x\"";
                ctx.Response.StatusCode = 200;
            }
            else if (ctx.Request.HttpMethod == "GET" && Objects.TryGetValue(path, out var data))
            {
                ctx.Response.StatusCode = 200;
                ctx.Response.ContentType = "application/octet-stream";
                ctx.Response.ContentLength64 = data.Length;
                await ctx.Response.OutputStream.WriteAsync(data);
            }
            else
            {
                var body = Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>" + path + "</Key></Error>");
                ctx.Response.StatusCode = 404;
                ctx.Response.ContentType = "application/xml";
                await ctx.Response.OutputStream.WriteAsync(body);
            }

            ctx.Response.Close();
        }
    }

    public void Dispose() => _listener.Close();
}

public class S3OutputTests
{
    [Fact]
    public void OutputKeyMatchesWhatSsmWrites()
    {
        Assert.Equal("p/q/cid/i-1/awsrunShellScript/0.awsrunShellScript/stdout", S3OutputReader.OutputKey("p/q/", "cid", "i-1", "stdout"));
        Assert.Equal("cid/i-1/awsrunShellScript/0.awsrunShellScript/stderr", S3OutputReader.OutputKey(null, "cid", "i-1", "stderr"));
    }

    [Fact]
    public async Task FullOutputIsReadBackFromS3WithAwsSdkS3()
    {
        using var s3 = new MiniS3();
        using var store = new S3ClientOutputStore(s3.Endpoint);
        using var fake = new FakeSsmServer(new FakeSsmOptions { OutputStore = store });
        fake.AddInstance(Ssm.Id(1), new SimulatedInstance { PaddingBeforeResult = 40_000, Stderr = "warning: big\n" });
        using var client = Ssm.Client(fake.Endpoint);
        using var reader = new S3OutputReader(Ssm.Settings(), s3.Endpoint);
        FleetNodeResult<ResultBlock>? result = null;
        await new FleetRunner(client, reader, FleetTests.FastOptions()).RunAsync(
            new FleetRunRequest { Script = "x", InstanceIds = new[] { Ssm.Id(1) }, OutputS3BucketName = "ssm-output", OutputS3KeyPrefix = "s3mount" },
            o => ResultBlock.Parse(o.Stdout), new DelegateFleetSink<ResultBlock>(r => result = r), CancellationToken.None);

        Assert.True(result!.IsSuccess, result + " | S3 log: " + string.Join("; ", s3.Log));
        Assert.Equal("S3", result.OutputSource);
        Assert.True(result.Stdout!.Length > 40_000);
        Assert.Equal("warning: big\n", result.Stderr);
        Assert.Contains(s3.Log, l => l.StartsWith("GET ssm-output/s3mount/", StringComparison.Ordinal) && l.Contains("AWS4-HMAC-SHA256"));
        Assert.Null(await reader.ReadTextAsync("ssm-output", "missing/key", null, CancellationToken.None));
    }
}
