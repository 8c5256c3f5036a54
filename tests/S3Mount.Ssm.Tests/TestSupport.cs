using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Text;
using System.Threading.Tasks;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

/// <summary>An HTTP server on 127.0.0.1 that records every request and answers from a queue (or a default): the SDK's real wire.</summary>
internal sealed class ScriptedServer : IDisposable
{
    private readonly LoopbackHttpServer _http;

    public ScriptedServer() => _http = new LoopbackHttpServer(HandleAsync);

    public Uri Endpoint => _http.Endpoint;

    public ConcurrentQueue<FakeHttpRequest> Requests { get; } = new();

    public Queue<(int Status, string Body)> Answers { get; } = new();

    public Func<FakeHttpRequest, (int Status, string Body)> Default { get; set; } = _ => (200, "{}");

    private Task<FakeHttpResponse> HandleAsync(FakeHttpRequest request)
    {
        Requests.Enqueue(request);
        (int status, string body) answer;
        lock (Answers)
        {
            answer = Answers.Count > 0 ? Answers.Dequeue() : Default(request);
        }

        return Task.FromResult(new FakeHttpResponse(answer.status, "application/x-amz-json-1.1", Encoding.UTF8.GetBytes(answer.body),
            new Dictionary<string, string> { ["x-amzn-RequestId"] = Guid.NewGuid().ToString() }));
    }

    public void Dispose() => _http.Dispose();
}

internal static class Ssm
{
    public const string AccessKey = "AKIDEXAMPLE0000000001";
    public const string SecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    public const string Region = "us-east-1";

    public static string Id(int n) => "i-" + n.ToString("x17");

    public static ResolvedAwsSettings Settings(Uri? endpoint = null) =>
        ResolvedAwsSettings.FromKeys(AccessKey, SecretKey, Region, endpoint);

    public static SsmClient Client(Uri endpoint, SsmClientOptions? options = null) => new(Settings(endpoint), options);
}
