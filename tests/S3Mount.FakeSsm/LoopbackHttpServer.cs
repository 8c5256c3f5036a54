using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace S3Mount.FakeSsm;

/// <summary>A request as the fakes see it: method, path, query, headers (case-insensitive) and the whole body.</summary>
public sealed class FakeHttpRequest
{
    public FakeHttpRequest(string method, string path, string query, IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        Method = method;
        Path = path;
        Query = query;
        Headers = headers;
        Body = body;
    }

    public string Method { get; }

    /// <summary>The raw (still percent-encoded) path, as SigV4 signs it.</summary>
    public string Path { get; }

    /// <summary>The raw query string without its <c>?</c>.</summary>
    public string Query { get; }

    public IReadOnlyDictionary<string, string> Headers { get; }

    public byte[] Body { get; }

    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>An answer of a fake: status, headers and body (a HEAD answer sends no body).</summary>
public sealed class FakeHttpResponse
{
    public FakeHttpResponse(int status, string contentType, byte[] body, IReadOnlyDictionary<string, string>? headers = null)
    {
        Status = status;
        ContentType = contentType;
        Body = body;
        Headers = headers ?? new Dictionary<string, string>();
    }

    public int Status { get; }
    public string ContentType { get; }
    public byte[] Body { get; }
    public IReadOnlyDictionary<string, string> Headers { get; }
}

/// <summary>
/// Kestrel on 127.0.0.1 port 0: the operating system picks a free port while binding, so two fakes (of one test
/// project or of several running at once) can never race for a port, and closing never re-binds.
/// </summary>
public sealed class LoopbackHttpServer : IDisposable
{
    private readonly WebApplication _app;

    public LoopbackHttpServer(Func<FakeHttpRequest, Task<FakeHttpResponse>> handler)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = Array.Empty<string>(), ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, 0);
            o.AddServerHeader = false;
            o.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
        });
        _app = builder.Build();
        _app.Run(async ctx =>
        {
            byte[] body;
            using (var ms = new MemoryStream())
            {
                await ctx.Request.Body.CopyToAsync(ms).ConfigureAwait(false);
                body = ms.ToArray();
            }

            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in ctx.Request.Headers)
            {
                headers[h.Key] = h.Value.ToString();
            }

            var raw = ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? (ctx.Request.PathBase + ctx.Request.Path + ctx.Request.QueryString);
            var q = raw.IndexOf('?');
            var request = new FakeHttpRequest(ctx.Request.Method, q < 0 ? raw : raw.Substring(0, q), q < 0 ? string.Empty : raw.Substring(q + 1), headers, body);
            FakeHttpResponse response;
            try
            {
                response = await handler(request).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                response = new FakeHttpResponse(500, "text/plain", System.Text.Encoding.UTF8.GetBytes(e.ToString()));
            }

            ctx.Response.StatusCode = response.Status;
            ctx.Response.ContentType = response.ContentType;
            foreach (var h in response.Headers)
            {
                ctx.Response.Headers[h.Key] = h.Value;
            }

            ctx.Response.ContentLength = response.Body.Length;
            if (!HttpMethods.IsHead(ctx.Request.Method) && response.Body.Length > 0)
            {
                await ctx.Response.Body.WriteAsync(response.Body).ConfigureAwait(false);
            }
        });
        _app.StartAsync().GetAwaiter().GetResult();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;
        Endpoint = new Uri("http://127.0.0.1:" + port.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/");
    }

    /// <summary><c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri Endpoint { get; }

    public void Dispose()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            _app.StopAsync(timeout.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
        }

        ((IDisposable)_app).Dispose();
    }
}
