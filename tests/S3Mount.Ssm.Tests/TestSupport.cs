using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Ssm;

namespace S3Mount.Ssm.Tests;

/// <summary>Records every request and answers from a queue (or a default), no network.</summary>
internal sealed class RecordingHandler : HttpMessageHandler
{
    public ConcurrentQueue<(string Target, string Body, HttpRequestMessage Request)> Requests { get; } = new();

    public Queue<(HttpStatusCode Status, string Body)> Answers { get; } = new();

    public Func<string, (HttpStatusCode, string)> Default { get; set; } = _ => (HttpStatusCode.OK, "{}");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken);
        var target = request.Headers.TryGetValues("X-Amz-Target", out var t) ? t.First() : string.Empty;
        Requests.Enqueue((target, body, request));
        (HttpStatusCode status, string text) answer;
        lock (Answers)
        {
            answer = Answers.Count > 0 ? Answers.Dequeue() : Default(target);
        }

        return new HttpResponseMessage(answer.status) { Content = new StringContent(answer.text, Encoding.UTF8, "application/x-amz-json-1.1") };
    }
}

internal static class Ssm
{
    public const string AccessKey = "AKIDEXAMPLE0000000001";
    public const string SecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    public const string Region = "us-east-1";

    public static string Id(int n) => "i-" + n.ToString("x17");

    public static ResolvedAwsSettings Settings(Uri? endpoint = null) =>
        ResolvedAwsSettings.FromKeys(AccessKey, SecretKey, Region, endpoint);

    public static SsmHttpClient Client(HttpMessageHandler handler, SsmRetryPolicy? retry = null, Action<string>? onRequest = null) =>
        new(Settings(new Uri("https://ssm.test.invalid/")), new SsmClientOptions { Retry = retry ?? SsmRetryPolicy.NoDelay(), OnRequest = onRequest }, handler);

    public static SsmHttpClient Client(Uri endpoint, SsmRetryPolicy? retry = null, Action<string>? onRequest = null) =>
        new(Settings(endpoint), new SsmClientOptions { Retry = retry ?? SsmRetryPolicy.NoDelay(), OnRequest = onRequest });
}
